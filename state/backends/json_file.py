"""The JSON file backend: one document, rewritten atomically under a file lock.

File layout (one line)::

    {"format":"novel-orchestrator-state","schema":1,"crc32":"1a2b3c4d","body":{...}}

``body`` holds ``seq``, ``docs`` and ``events``; ``crc32`` covers the exact
text of ``body``, so a file damaged after it was written (a bad sector, a
careless edit) is reported instead of being read as a valid, smaller state.
Writers hold ``<file>.lock``; each commit writes a temp file beside the target,
fsyncs it, renames it over the target, and fsyncs the folder after the lock is
released (the rename is already visible; the folder fsync only makes it
durable, and the writer is not acknowledged until it is done).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from state.atomic import create_temp, fsync_dir, replace_with_temp, temp_path_for
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
from state.schema import SCHEMA_VERSION

FORMAT = "novel-orchestrator-state"
_HEADER = re.compile(r'^\{"format":"([^"]*)","schema":(\d+),"crc32":"([0-9a-f]{8})","body":')


@dataclass
class _Loaded:
    """The parsed file, kept while its inode is the one at the path."""

    anchor_fd: int | None  # holds the inode alive, so it cannot be reused unseen
    seq: int
    docs: dict[str, str]
    events: list[StoredEvent]


def render(seq: int, docs: Mapping[str, str], events: Sequence[StoredEvent]) -> bytes:
    """The whole file, assembled from already-encoded documents and events.

    One document or event per line: still one JSON value, easy to read and to
    diff, and loading it needs no decoding of documents nobody reads.
    """
    doc_lines = ",\n".join(
        f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in sorted(docs.items())
    )
    event_lines = ",\n".join(e.body for e in events)
    body = f'{{"seq":{seq},"docs":{{\n{doc_lines}\n}},"events":[\n{event_lines}\n]}}'
    crc = _checksum(SCHEMA_VERSION, body)
    header = f'{{"format":"{FORMAT}","schema":{SCHEMA_VERSION},"crc32":"{crc:08x}","body":'
    return f"{header}{body}}}\n".encode()


def _checksum(schema: int, body: str) -> int:
    """CRC-32 over the format, the schema version and the body: no bit of them flips unseen."""
    return zlib.crc32(body.encode("utf-8"), zlib.crc32(f"{FORMAT}/{schema}".encode()))


_BODY_START = re.compile(r'^\{"seq":(\d+),"docs":\{$')
_KEY = json.JSONDecoder()


def parse(path: Path, data: bytes) -> tuple[int, dict[str, str], list[StoredEvent]]:
    """Decode and verify a state file; raise CorruptStateError on any damage."""
    where = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptStateError(
            where, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    header = _HEADER.match(text)
    if header is None:
        raise CorruptStateError(where, "not a state file (the header is missing or damaged)")
    fmt, schema, crc = header.group(1), int(header.group(2)), header.group(3)
    body = text[header.end() :].rstrip("\n")
    if fmt != FORMAT or not body.endswith("]}}"):
        raise CorruptStateError(where, "the file is truncated or not a state file")
    body = body[:-1]
    if schema != SCHEMA_VERSION:
        raise SchemaVersionError(where, schema, SCHEMA_VERSION)
    if f"{_checksum(schema, body):08x}" != crc:
        raise CorruptStateError(where, "checksum mismatch (the file was damaged or truncated)")
    try:
        return _split_body(body)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CorruptStateError(where, f"the content does not match the layout ({exc})") from None


def _split_body(body: str) -> tuple[int, dict[str, str], list[StoredEvent]]:
    lines = body.split("\n")
    start = _BODY_START.match(lines[0])
    if start is None or lines[-1] != "]}":
        raise ValueError("unexpected body layout")
    split = lines.index('},"events":[')
    docs: dict[str, str] = {}
    for line in filter(None, lines[1:split]):
        key, value = _doc_line(line)
        docs[key] = value
    events = [
        _event_from_line(line.removesuffix(",")) for line in filter(None, lines[split + 1 : -1])
    ]
    return int(start.group(1)), docs, events


def _doc_line(line: str) -> tuple[str, str]:
    """A document line's key and encoded value.

    A key with no backslash between its quotes is the text between them (the
    usual case, read without the JSON decoder); any other goes through it.
    """
    close = line.find('"', 1)
    if line.startswith('"') and close > 0 and line[close + 1 : close + 2] == ":":
        key = line[1:close]
        if "\\" not in key:
            return key, line[close + 2 :].removesuffix(",")
    decoded, end = _KEY.raw_decode(line)
    if not isinstance(decoded, str) or line[end : end + 1] != ":":
        raise ValueError(f"bad document line {line[:60]!r}")
    return decoded, line[end + 1 :].removesuffix(",")


def _event_from_line(line: str) -> StoredEvent:
    body = json.loads(line)
    return StoredEvent(seq=int(body["seq"]), chapter=int(body.get("chapter", 0)), body=line)


class JSONFileBackend(LocalFileBackend):
    """``json:///path/state.json``: for prototypes and small books."""

    scheme = "json"

    def __init__(
        self,
        path: Path,
        durability: Durability = "full",
        lock_timeout_s: float = 60.0,
        allow_network_fs: bool = False,
        create: bool = True,
    ) -> None:
        super().__init__(path, durability, lock_timeout_s, allow_network_fs, create)
        self._loaded: _Loaded | None = None
        self._local = asyncio.Lock()
        self._dir_dirty = False
        self._in_session = False
        # Anchors let go of while the lock was held, closed once it is released: the
        # last close of a replaced file frees its inode and blocks, which takes the
        # file system tens of microseconds that the next writer need not wait for.
        self._retired: list[int] = []
        # The next commit's temp file, made before the lock is taken (creating a file
        # is the slowest step of a rewrite after the fsync); its descriptor becomes
        # the anchor of the new state file.
        self._spare: tuple[Path, int] | None = None

    async def open(self) -> None:
        self.check_folder()
        self.lock.open()
        try:
            await self.lock.acquire()
            try:
                if not self.path.exists():
                    self._write(0, {}, [])
                    fsync_dir(self.path.parent)
                self._refresh()
            finally:
                self.lock.release()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._drop_cache()
        self._close_retired()
        self._drop_spare()
        self.lock.close()

    def _make_spare(self) -> None:
        if self._spare is not None or self.durability not in ("full", "group"):
            return
        try:
            self._spare = create_temp(self.path)
        except OSError as exc:
            raise StateWriteError(str(self.path), exc) from exc

    def _drop_spare(self) -> None:
        if self._spare is not None:
            tmp, fd = self._spare
            self._spare = None
            os.close(fd)
            tmp.unlink(missing_ok=True)

    def _drop_cache(self) -> None:
        if self._loaded is not None and self._loaded.anchor_fd is not None:
            if self._in_session:
                self._retired.append(self._loaded.anchor_fd)
            else:
                os.close(self._loaded.anchor_fd)
        self._loaded = None

    def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for fd in retired:
            os.close(fd)

    def _refresh(self) -> _Loaded:
        """The current file, parsed again only if it was replaced since we read it."""
        loaded = self._loaded
        if loaded is not None and loaded.anchor_fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(loaded.anchor_fd).st_ino:
                    return loaded
            except FileNotFoundError:
                raise StateOpenError(str(self.path), "the state file was deleted") from None
        self._drop_cache()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise StateOpenError(str(self.path), "the state file was deleted") from None
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read()
        try:
            seq, docs, events = parse(self.path, data)
        except BaseException:
            os.close(fd)
            raise
        self._loaded = _Loaded(anchor_fd=fd, seq=seq, docs=docs, events=events)
        return self._loaded

    def _write(self, seq: int, docs: dict[str, str], events: list[StoredEvent]) -> None:
        data = render(seq, docs, events)
        try:
            if self.durability in ("full", "group"):
                anchor = self._replace_synced(data)
            else:
                self._replace_unsynced(data)
                anchor = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise StateWriteError(str(self.path), exc) from exc
        self._dir_dirty = self.durability in ("full", "group")
        self._drop_cache()
        self._loaded = _Loaded(anchor_fd=anchor, seq=seq, docs=docs, events=events)

    def _replace_synced(self, data: bytes) -> int:
        """Rewrite through the spare temp file (or a new one); its descriptor is returned."""
        tmp, fd = self._spare if self._spare is not None else create_temp(self.path)
        self._spare = None
        try:
            replace_with_temp(self.path, tmp, fd, data)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _replace_unsynced(self, data: bytes) -> None:
        tmp = temp_path_for(self.path)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[WriteSession]:
        async with self._local:
            self._close_retired()  # left by a session whose commit failed
            self._make_spare()
            await self.lock.acquire()
            self._in_session = True
            try:
                yield _JSONSession(self, self._refresh())
            finally:
                self._in_session = False
                self.lock.release()

    async def after_release(self) -> None:
        self._close_retired()
        if self._dir_dirty:
            failpoint("json.before_dir_fsync")
            self._dir_dirty = False
            try:
                fsync_dir(self.path.parent)
            except OSError as exc:
                raise StateWriteError(str(self.path), exc) from exc

    async def get(self, key: str) -> str | None:
        return self._refresh().docs.get(key)

    async def scan(self, prefix: str) -> dict[str, str]:
        docs = self._refresh().docs
        return {k: v for k, v in sorted(docs.items()) if k.startswith(prefix)}

    async def read_view(
        self, prefixes: Sequence[str], events_before_chapter: int | None
    ) -> ReadView:
        loaded = self._refresh()
        docs = {k: v for k, v in loaded.docs.items() if k.startswith(tuple(prefixes))}
        events = (
            []
            if events_before_chapter is None
            else [e for e in loaded.events if e.chapter < events_before_chapter]
        )
        return ReadView(docs=docs, events=events, last_seq=loaded.seq)

    async def events(
        self, after_seq: int = 0, before_chapter: int | None = None
    ) -> AsyncIterator[StoredEvent]:
        for event in list(self._refresh().events):
            if event.seq > after_seq and (before_chapter is None or event.chapter < before_chapter):
                yield event

    async def health(self) -> list[HealthCheck]:
        checks = [HealthCheck("json.parse", True, f"{self.path} parses, checksum and schema match")]
        loaded = self._refresh()
        checks.append(
            HealthCheck(
                "json.size", True, f"{len(loaded.docs)} documents, {len(loaded.events)} events"
            )
        )
        return checks


class _JSONSession(WriteSession):
    def __init__(self, backend: JSONFileBackend, loaded: _Loaded) -> None:
        self._backend = backend
        self._loaded = loaded

    async def read(self, key: str) -> str | None:
        return self._loaded.docs.get(key)

    async def scan(self, prefix: str) -> dict[str, str]:
        return {k: v for k, v in self._loaded.docs.items() if k.startswith(prefix)}

    async def last_seq(self) -> int:
        return self._loaded.seq

    async def commit(self, writes: Mapping[str, str | None], events: Sequence[StoredEvent]) -> None:
        docs = dict(self._loaded.docs)
        for key, value in writes.items():
            if value is None:
                docs.pop(key, None)
            else:
                docs[key] = value
        all_events = self._loaded.events + list(events)
        seq = events[-1].seq if events else self._loaded.seq
        self._backend._write(seq, docs, all_events)
