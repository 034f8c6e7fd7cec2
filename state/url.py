"""State URLs: the scheme picks the backend.

``json:///abs/path/state.json``, ``json://relative/state.json``,
``sqlite:///abs/path/state.db``, ``sqlite://relative/state.db``,
``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS). Query
parameters: ``durability=full|group|normal|off``, ``lock_timeout=SECONDS``,
``allow_network_fs=1`` (files); ``namespace=NAME``, ``lease=SECONDS``,
``reconnect=SECONDS`` (Redis).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from state.backend import DURABILITY_LEVELS, Durability
from state.backends.redis_url import (
    RedisAddress,
    parse_redis_address,
    redact,
    with_default_namespace,
    without_password,
)
from state.errors import StateURLError

SCHEMES: tuple[str, ...] = ("json", "sqlite", "redis", "rediss")
REDIS_SCHEMES: tuple[str, ...] = ("redis", "rediss")
FUTURE_SCHEMES: dict[str, str] = {}
__all__ = [
    "RedisAddress",
    "StateURL",
    "parse_state_url",
    "redact",
    "with_default_namespace",
    "without_password",
]

_FILE_OPTIONS = ("durability", "lock_timeout", "allow_network_fs")
_REDIS_OPTIONS = ("durability", "lock_timeout", "namespace", "lease", "reconnect")


@dataclass(frozen=True)
class StateURL:
    """A parsed state URL."""

    scheme: str
    path: Path
    durability: Durability = "full"
    lock_timeout_s: float = 60.0
    allow_network_fs: bool = False
    redis: RedisAddress | None = None  # set for redis:// and rediss://
    lease_s: float = 10.0  # Redis: how long a write lock outlives a holder that died
    reconnect_s: float = 10.0  # Redis: how long to keep retrying a lost connection

    def __str__(self) -> str:
        if self.redis is not None:
            return f"{self.redis.display()}?namespace={self.redis.namespace}"
        return f"{self.scheme}://{self.path}"

    def local_file(self) -> Path | None:
        """The store's file on this machine's disk (None for a store on a server)."""
        return self.path if self.redis is None else None

    def full(self, secret: bool = False) -> str:
        """The URL with its absolute path and every option: opens the same store from anywhere.

        Never the Redis password (this is what run folders record), unless ``secret``: the
        URL a process opens the store with, kept in memory only.
        """
        options = f"durability={self.durability}&lock_timeout={self.lock_timeout_s:g}"
        if self.allow_network_fs:
            options += "&allow_network_fs=1"
        if self.redis is not None:
            options += f"&lease={self.lease_s:g}&reconnect={self.reconnect_s:g}"
            base = f"{self.redis.display(secret)}?namespace={self.redis.namespace}"
            return f"{base}&{options}"
        return f"{self}?{options}"


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_state_url(url: str, base_dir: Path | None = None) -> StateURL:
    """Parse and check a state URL; relative paths are taken from ``base_dir`` (or the cwd)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url:
        raise StateURLError(
            url, "expected <backend>://<path>, for example sqlite:///runs/x/state.db"
        )
    if scheme in FUTURE_SCHEMES:
        raise StateURLError(url, FUTURE_SCHEMES[scheme])
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise StateURLError(
            redact(url), f"unknown backend {scheme!r}{_suggest(scheme, SCHEMES)}; known: {known}"
        )
    if scheme in REDIS_SCHEMES:
        return _parse_redis(url, parts)
    raw_path = unquote(parts.netloc + parts.path)
    if not raw_path:
        raise StateURLError(url, "the URL names no file")
    path = Path(raw_path)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return replace(StateURL(scheme=scheme, path=path), **_options(url, parts.query))


def _parse_redis(url: str, parts: SplitResult) -> StateURL:
    params = _params(url, parts.query, _REDIS_OPTIONS)
    address = parse_redis_address(url, parts, params.pop("namespace", None))
    options = _options(redact(url), parts.query, _REDIS_OPTIONS)
    options.pop("namespace", None)
    for name, attr in (("lease", "lease_s"), ("reconnect", "reconnect_s")):
        if name in params:
            options[attr] = _seconds(redact(url), name, params[name])
    return replace(StateURL(scheme=parts.scheme.lower(), path=Path(), redis=address), **options)


def _params(url: str, query: str, allowed: tuple[str, ...]) -> dict[str, str]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for name in params:
        if name not in allowed:
            raise StateURLError(redact(url), f"unknown option {name!r}{_suggest(name, allowed)}")
    return params


def _seconds(url: str, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise StateURLError(url, f"{name} must be a number of seconds") from None
    if not value > 0:
        raise StateURLError(url, f"{name} must be more than 0 seconds")
    return value


def _options(url: str, query: str, allowed: tuple[str, ...] = _FILE_OPTIONS) -> dict[str, Any]:
    params = _params(url, query, allowed)
    options: dict[str, Any] = {}
    if "durability" in params:
        level = params["durability"].lower()
        if level not in DURABILITY_LEVELS:
            raise StateURLError(url, f"durability must be one of {', '.join(DURABILITY_LEVELS)}")
        options["durability"] = cast(Durability, level)
    if "lock_timeout" in params:
        try:
            options["lock_timeout_s"] = float(params["lock_timeout"])
        except ValueError:
            raise StateURLError(url, "lock_timeout must be a number of seconds") from None
    if "allow_network_fs" in params:
        options["allow_network_fs"] = params["allow_network_fs"].lower() in ("1", "true", "yes")
    return options
