"""State URLs: the scheme picks the backend.

``json:///abs/path/state.json``, ``json://relative/state.json``,
``sqlite:///abs/path/state.db``, ``sqlite://relative/state.db``. Query
parameters: ``durability=full|group|normal|off``, ``lock_timeout=SECONDS``,
``allow_network_fs=1``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from state.backend import DURABILITY_LEVELS, Durability
from state.errors import StateURLError

SCHEMES: tuple[str, ...] = ("json", "sqlite")
FUTURE_SCHEMES: dict[str, str] = {
    "redis": "the Redis backend is not available yet; use sqlite:// on one machine",
    "rediss": "the Redis backend is not available yet; use sqlite:// on one machine",
}
_OPTIONS = ("durability", "lock_timeout", "allow_network_fs")


@dataclass(frozen=True)
class StateURL:
    """A parsed state URL."""

    scheme: str
    path: Path
    durability: Durability = "full"
    lock_timeout_s: float = 60.0
    allow_network_fs: bool = False

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}"

    def full(self) -> str:
        """The URL with its absolute path and every option: opens the same store from anywhere."""
        options = f"durability={self.durability}&lock_timeout={self.lock_timeout_s:g}"
        if self.allow_network_fs:
            options += "&allow_network_fs=1"
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
            url, f"unknown backend {scheme!r}{_suggest(scheme, SCHEMES)}; known: {known}"
        )
    raw_path = unquote(parts.netloc + parts.path)
    if not raw_path:
        raise StateURLError(url, "the URL names no file")
    path = Path(raw_path)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return replace(StateURL(scheme=scheme, path=path), **_options(url, parts.query))


def _options(url: str, query: str) -> dict[str, Any]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for name in params:
        if name not in _OPTIONS:
            raise StateURLError(url, f"unknown option {name!r}{_suggest(name, _OPTIONS)}")
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
