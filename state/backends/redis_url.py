"""Where a Redis store lives: ``redis://[user[:password]@]host[:port][/db]?namespace=NAME``.

``rediss://`` is the same over TLS. The password may be left out of the URL
and given in ``$ORCHESTRATOR_REDIS_PASSWORD`` instead; either way it is kept
out of every printed form of the URL (``display()``), which is what reaches
logs, error messages, metrics and the run folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qs, quote, unquote, urlsplit

from state.errors import StateURLError

PASSWORD_ENV = "ORCHESTRATOR_REDIS_PASSWORD"
DEFAULT_PORT = 6379
DEFAULT_NAMESPACE = "default"
_NAMESPACE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class RedisAddress:
    """A Redis server, a database on it, and the namespace the store's keys live under."""

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    tls: bool = False
    namespace: str = DEFAULT_NAMESPACE

    @property
    def key_prefix(self) -> str:
        """Every key of the store starts with this; the braces keep them in one cluster slot."""
        return f"orchestrator:{{{self.namespace}}}:"

    def display(self, secret: bool = False) -> str:
        """The URL without the password: safe to log, print and store (``secret``: with it,
        for opening the store in this process only)."""
        scheme = "rediss" if self.tls else "redis"
        user = f"{self.username}@" if self.username else ""
        if secret and self.password:
            user = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}/{self.db}"

    def connection_kwargs(self) -> dict[str, object]:
        """What redis-py's connection classes take."""
        kwargs: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password or os.environ.get(PASSWORD_ENV) or None,
        }
        return kwargs


def parse_redis_address(url: str, parts: SplitResult, namespace: str | None) -> RedisAddress:
    """The address part of a ``redis://`` or ``rediss://`` URL; the options are parsed apart."""
    try:
        host = parts.hostname
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise StateURLError(redact(url), f"bad port ({exc})") from None
    if not host:
        raise StateURLError(redact(url), "no host; expected redis://host:6379/0")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise StateURLError(redact(url), f"the path must be a database number, got {db_text!r}")
    name = namespace if namespace is not None else DEFAULT_NAMESPACE
    if not _NAMESPACE.match(name):
        raise StateURLError(redact(url), "namespace must be 1-100 letters, digits, '.', '_' or '-'")
    return RedisAddress(
        host=host,
        port=port,
        db=int(db_text),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=parts.scheme.lower() == "rediss",
        namespace=name,
    )


def with_default_namespace(url: str, namespace: str) -> str:
    """``url`` with ``namespace`` added when it is a Redis URL that names none; any other
    URL as it is. A character a namespace cannot hold becomes ``-`` (a run's id is a
    folder's name, which may hold anything)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss") or "namespace" in parse_qs(parts.query):
        return url
    name = re.sub(r"[^A-Za-z0-9._-]", "-", namespace)[:100] or DEFAULT_NAMESPACE
    joiner = "&" if parts.query else ("" if url.endswith("?") else "?")
    return f"{url}{joiner}namespace={name}"


def without_password(url: str) -> str:
    """``url`` with any password left out (a user name stays): what is written to a file
    that is read again, where the password is to come from ``$ORCHESTRATOR_REDIS_PASSWORD``."""
    return re.sub(r"^(\w+://)([^:/@]*):[^@/]*@", lambda m: m[1] + (f"{m[2]}@" if m[2] else ""), url)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)
