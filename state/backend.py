"""What a backend provides: a transactional store of JSON documents under keys,
plus an append-only event log.

Values travel as encoded JSON text, so a document is encoded once when it is
written and decoded once per read: no aliasing between callers, no re-encoding
of documents nobody touched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

# full:   every commit is on disk before it returns (SQLite: synchronous=FULL).
# group:  the same guarantee, with the fsync done after the write lock is released, so
#         the next writer need not wait for it and concurrent fsyncs coalesce.
# normal: survives a crash of the process, not of the machine (no fsync per commit).
# off:    no fsync at all; for throwaway runs.
Durability = Literal["full", "group", "normal", "off"]
DURABILITY_LEVELS: tuple[str, ...] = ("full", "group", "normal", "off")


@dataclass(frozen=True)
class StoredEvent:
    """One event of the log: its sequence number, chapter and encoded body."""

    seq: int
    chapter: int
    body: str


@dataclass
class ReadView:
    """A consistent read: documents, events, and the last sequence number."""

    docs: dict[str, str]
    events: list[StoredEvent]
    last_seq: int


@dataclass
class HealthCheck:
    """One line of a health report: a check, whether it passed, and why."""

    name: str
    ok: bool
    detail: str
    level: Literal["error", "warning"] = "error"
    data: dict[str, Any] = field(default_factory=dict)


class WriteSession(ABC):
    """The backend as seen while holding its exclusive write lock."""

    @abstractmethod
    async def read(self, key: str) -> str | None:
        """The encoded document under ``key`` as last committed, or None."""

    @abstractmethod
    async def scan(self, prefix: str) -> dict[str, str]:
        """Every committed document whose key starts with ``prefix``."""

    @abstractmethod
    async def last_seq(self) -> int:
        """The sequence number of the last event committed (0 if none)."""

    @abstractmethod
    async def commit(self, writes: Mapping[str, str | None], events: Sequence[StoredEvent]) -> None:
        """Apply the writes (None deletes) and append the events, all or nothing."""


class Backend(ABC):
    """A storage backend; the StateManager builds everything else on top."""

    scheme: str = ""

    def __init__(self, location: str, durability: Durability) -> None:
        self.location = location
        self.durability = durability

    @abstractmethod
    async def open(self) -> None:
        """Create or open the store; refuse a corrupt one loudly."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def exclusive(self) -> AbstractAsyncContextManager[WriteSession]:
        """Hold the write lock across processes for the life of the context."""

    async def after_release(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Called after the write lock is released and before the commit is acknowledged."""

    @abstractmethod
    async def get(self, key: str) -> str | None:
        """A committed document, read without the write lock."""

    @abstractmethod
    async def scan(self, prefix: str) -> dict[str, str]:
        """Committed documents by prefix, one consistent view, without the write lock."""

    @abstractmethod
    async def read_view(
        self, prefixes: Sequence[str], events_before_chapter: int | None
    ) -> ReadView:
        """Documents under several prefixes, plus (if asked) the events of chapters
        before one, all from one consistent committed state, without the write lock."""

    @abstractmethod
    def events(
        self, after_seq: int = 0, before_chapter: int | None = None
    ) -> AsyncIterator[StoredEvent]:
        """The event log in sequence order, optionally only chapters before one."""

    @abstractmethod
    async def health(self) -> list[HealthCheck]:
        """Backend-specific health checks for ``orchestrator doctor``."""
