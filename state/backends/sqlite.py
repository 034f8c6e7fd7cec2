"""The SQLite backend: WAL mode, one writer at a time, fair across processes.

Writers take ``<db>.lock`` (a kernel-queued flock, see ``state.backends.proclock``)
before they touch the database, so SQLite's own busy handler, which sleeps
1, 2, 5 ... 100 ms between polls and lets late arrivals overtake early ones,
never decides who waits. Under that lock a write transaction begins as a
writer (``BEGIN IMMEDIATE``), so it cannot fail half-way with "database is
locked"; ``busy_timeout`` stays as a guard against other programs.

The short statements of the write path run on the event loop's thread: under
our own lock they never wait for another writer, and a hop to a worker thread
costs 150-190 us on a small VM, ten to fifty times the statement. Reads that
may be long (history, scans, health checks) go through ``aiosqlite`` so they
never block the loop.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from state.backend import (
    Durability,
    HealthCheck,
    ReadView,
    StoredEvent,
    WriteSession,
)
from state.backends.local_file import LocalFileBackend
from state.errors import (
    CorruptStateError,
    SchemaVersionError,
    StateOpenError,
    StateWriteError,
)
from state.failpoints import failpoint
from state.schema import MIGRATED_KEY, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SYNCHRONOUS = {"full": "FULL", "group": "NORMAL", "normal": "NORMAL", "off": "OFF"}

# pragma_data_version(): this connection's data version, which changes when another
# connection commits; read in the same statement as the migration marker.
_SESSION_START_SQL = (
    "SELECT (SELECT data_version FROM pragma_data_version()), "
    "(SELECT value FROM docs WHERE key = ?)"
)

_DDL = """
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    chapter INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


def prefix_upper(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _write_error(where: str, exc: sqlite3.Error) -> Exception:
    message = str(exc)
    if "malformed" in message or "not a database" in message:
        return CorruptStateError(where, message)
    return StateWriteError(where, OSError(getattr(exc, "sqlite_errorcode", 0), message))


class SQLiteBackend(LocalFileBackend):
    """``sqlite:///path/state.db``: for production on one machine."""

    scheme = "sqlite"

    def __init__(
        self,
        path: Path,
        durability: Durability = "full",
        lock_timeout_s: float = 60.0,
        allow_network_fs: bool = False,
        create: bool = True,
    ) -> None:
        super().__init__(path, durability, lock_timeout_s, allow_network_fs, create)
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._local = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._cache: dict[str, str | None] = {}
        self._seq: int | None = None
        self._data_version: int | None = None
        self._wal_fd: int | None = None
        self._unsynced = False

    # -- opening -------------------------------------------------------------

    async def open(self) -> None:
        self._check_path()
        self.lock.open()
        try:
            await self.lock.acquire()
            try:
                self._writer = self._connect_writer()
                self._setup(self._writer)
            finally:
                self.lock.release()
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._reader.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise CorruptStateError(str(self.path), str(exc)) from None
        except BaseException:
            await self.close()
            raise

    def _check_path(self) -> None:
        self.check_folder()
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as handle:
                if handle.read(16) != _SQLITE_MAGIC:
                    raise CorruptStateError(str(self.path), "not an SQLite database (bad header)")

    def _connect_writer(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.OperationalError as exc:
            raise StateOpenError(str(self.path), str(exc)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StateOpenError(str(self.path), f"WAL mode is not available (got {mode})")
            conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[self.durability]}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        """Idempotent: creates the schema on a new database, checks it on an old one."""
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise CorruptStateError(str(self.path), f"quick_check: {check}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, _DDL.split(";")):
                conn.execute(statement)
            row = conn.execute("SELECT version FROM schema_info").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_info (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise SchemaVersionError(str(self.path), row[0], SCHEMA_VERSION)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.lock.close()

    # -- writing -------------------------------------------------------------

    @property
    def writer(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StateOpenError(str(self.path), "the store is closed")
        return self._writer

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[WriteSession]:
        async with self._local:
            await self.lock.acquire()
            try:
                self._begin()
                try:
                    yield _SQLiteSession(self)
                finally:
                    self._end()
            finally:
                self.lock.release()

    def _begin(self) -> None:
        """Open the session's write transaction and check the cache against it.

        The whole session is one SQLite transaction: its reads then share one
        snapshot and one set of WAL locks (outside a transaction every statement
        takes and drops its own read lock, two system calls each). It begins as a
        writer, so it never fails half-way with "database is locked". One
        statement reads the data version and the migration marker every group
        checks, so neither costs a statement of its own.
        """
        conn = self.writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            version, marker = conn.execute(_SESSION_START_SQL, (MIGRATED_KEY,)).fetchone()
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _write_error(str(self.path), exc) from exc
        if version != self._data_version:  # another connection committed since
            self._cache.clear()
            self._seq = None
            self._data_version = version
        self._cache[MIGRATED_KEY] = None if marker is None else str(marker)

    def _end(self) -> None:
        """End a session that did not commit (it read, or its commit failed)."""
        conn = self.writer
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _commit(self, writes: Mapping[str, str | None], events: Sequence[StoredEvent]) -> None:
        conn = self.writer
        try:
            if not conn.in_transaction:  # a second commit in one session
                conn.execute("BEGIN IMMEDIATE")
            upserts = [(k, v) for k, v in writes.items() if v is not None]
            deletes = [(k,) for k, v in writes.items() if v is None]
            if upserts:
                conn.executemany(
                    "INSERT INTO docs (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    upserts,
                )
            if deletes:
                conn.executemany("DELETE FROM docs WHERE key = ?", deletes)
            if events:
                conn.executemany(
                    "INSERT INTO events (seq, chapter, body) VALUES (?, ?, ?)",
                    [(e.seq, e.chapter, e.body) for e in events],
                )
            failpoint("sqlite.before_commit")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._cache.clear()
            self._seq = None
            if isinstance(exc, sqlite3.Error):
                raise _write_error(str(self.path), exc) from exc
            if isinstance(exc, OSError):
                raise StateWriteError(str(self.path), exc) from exc
            raise
        self._cache.update(writes)
        if events:
            self._seq = events[-1].seq
        self._unsynced = self.durability == "group"

    async def after_release(self) -> None:
        """``group`` durability: fsync the WAL (our commit's frames) before acknowledging.

        With synchronous=NORMAL SQLite syncs the WAL before every checkpoint and
        the database after it, so frames already checkpointed are durable too;
        syncing the WAL file makes our commit frame, and every frame before it,
        durable. Other writers' syncs running at the same time coalesce.
        """
        if not self._unsynced:
            return
        self._unsynced = False
        try:
            if self._wal_fd is None:
                self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY)
            os.fdatasync(self._wal_fd)
        except OSError as exc:
            raise StateWriteError(str(self.path), exc) from exc

    # -- reading without the lock ---------------------------------------------

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StateOpenError(str(self.path), "the store is closed")
        return self._reader

    async def get(self, key: str) -> str | None:
        rows = await self.reader.execute_fetchall("SELECT value FROM docs WHERE key = ?", (key,))
        rows = list(rows)
        return str(rows[0][0]) if rows else None

    async def scan(self, prefix: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in await self.reader.execute_fetchall(*_scan_sql(prefix))}

    async def read_view(
        self, prefixes: Sequence[str], events_before_chapter: int | None
    ) -> ReadView:
        reader = self.reader
        async with self._read_lock:  # one BEGIN at a time on the shared reader
            return await self._read_view(reader, prefixes, events_before_chapter)

    async def _read_view(
        self,
        reader: aiosqlite.Connection,
        prefixes: Sequence[str],
        events_before_chapter: int | None,
    ) -> ReadView:
        await reader.execute("BEGIN")
        try:
            docs: dict[str, str] = {}
            for prefix in prefixes:
                rows = await reader.execute_fetchall(*_scan_sql(prefix))
                docs.update((str(k), str(v)) for k, v in rows)
            events: list[StoredEvent] = []
            if events_before_chapter is not None:
                rows = await reader.execute_fetchall(
                    "SELECT seq, chapter, body FROM events WHERE chapter < ? ORDER BY seq",
                    (events_before_chapter,),
                )
                events = [StoredEvent(int(s), int(c), str(b)) for s, c, b in rows]
            seq_rows = list(
                await reader.execute_fetchall("SELECT COALESCE(MAX(seq), 0) FROM events")
            )
        finally:
            await reader.execute("COMMIT")
        return ReadView(docs=docs, events=events, last_seq=int(seq_rows[0][0]))

    async def events(
        self, after_seq: int = 0, before_chapter: int | None = None
    ) -> AsyncIterator[StoredEvent]:
        sql = "SELECT seq, chapter, body FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if before_chapter is not None:
            sql += " AND chapter < ?"
            params.append(before_chapter)
        rows = await self.reader.execute_fetchall(sql + " ORDER BY seq", params)
        for seq, chapter, body in rows:
            yield StoredEvent(seq=int(seq), chapter=int(chapter), body=str(body))

    async def health(self) -> list[HealthCheck]:
        async def one(sql: str) -> Any:
            rows = list(await self.reader.execute_fetchall(sql))
            return rows[0][0] if rows else None

        mode = str(await one("PRAGMA journal_mode")).lower()
        busy = int(await one("PRAGMA busy_timeout"))
        version = await one("SELECT version FROM schema_info")
        integrity = str(await one("PRAGMA integrity_check"))
        return [
            HealthCheck("sqlite.wal", mode == "wal", f"journal_mode is {mode}"),
            HealthCheck(
                "sqlite.busy_timeout", busy >= 5000, f"busy_timeout is {busy} ms (want >= 5000)"
            ),
            HealthCheck(
                "sqlite.schema",
                version == SCHEMA_VERSION,
                f"schema version {version} (current {SCHEMA_VERSION})",
            ),
            HealthCheck("sqlite.integrity", integrity == "ok", f"integrity_check: {integrity}"),
        ]


def _scan_sql(prefix: str) -> tuple[str, tuple[str, ...]]:
    if not prefix:
        return "SELECT key, value FROM docs ORDER BY key", ()
    return (
        "SELECT key, value FROM docs WHERE key >= ? AND key < ? ORDER BY key",
        (prefix, prefix_upper(prefix)),
    )


class _SQLiteSession(WriteSession):
    def __init__(self, backend: SQLiteBackend) -> None:
        self._b = backend

    async def read(self, key: str) -> str | None:
        cache = self._b._cache
        if key in cache:
            return cache[key]
        row = self._b.writer.execute("SELECT value FROM docs WHERE key = ?", (key,)).fetchone()
        value = None if row is None else str(row[0])
        cache[key] = value
        return value

    async def scan(self, prefix: str) -> dict[str, str]:
        rows = self._b.writer.execute(*_scan_sql(prefix)).fetchall()
        return {str(k): str(v) for k, v in rows}

    async def last_seq(self) -> int:
        if self._b._seq is None:
            row = self._b.writer.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            self._b._seq = int(row[0])
        return self._b._seq

    async def commit(self, writes: Mapping[str, str | None], events: Sequence[StoredEvent]) -> None:
        self._b._commit(writes, events)
