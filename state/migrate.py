"""Copy a store to another backend through the Backend contract, and prove the copy.

Any two backends work: documents are read and written as encoded JSON under
the same keys, events keep their sequence numbers. The steps, each safe to
interrupt with kill -9:

1. take the source's write lock (no writer of any process commits meanwhile);
2. copy every document and event into the destination in ONE commit, so the
   destination is either untouched or complete;
3. read the destination back and compare its canonical digest with the
   source's; a mismatch stops here, with the source still in use;
4. ``on_verified``: the caller switches its pointer (a run's ``run.json``)
   to the destination, atomically;
5. mark the source migrated (``meta/migrated_to``): it stays as a read-only
   backup, and a writer that was waiting for its lock is refused with the new
   location instead of writing to the old store.

A kill before step 4 leaves everything on the complete source; after it, on
the complete, verified destination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from state.backend import Backend, StoredEvent, WriteSession
from state.errors import MigrationError, StateError
from state.failpoints import failpoint
from state.models import utc_iso
from state.schema import MIGRATED_KEY
from state.transaction import encode

# Called once the copy is verified, before the source is marked: switch to the copy there.
OnVerified = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class StoreDigest:
    """A canonical SHA-256 of a store's documents and events, with their counts."""

    sha256: str
    documents: int
    events: int
    last_seq: int


@dataclass(frozen=True)
class MigrationReport:
    """What a migration copied and proved."""

    source: str
    destination: str
    digest: StoreDigest
    replaced: bool  # the destination held something and --force replaced it
    source_marked: bool  # False: the copy is in use, but the old store could not be marked

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "digest": asdict(self.digest)}


def store_digest(docs: Mapping[str, str], events: Sequence[StoredEvent]) -> StoreDigest:
    """The same content gives the same digest on every backend.

    Documents are re-encoded canonically (sorted keys, compact), so a backend
    that stores JSON text differently digests the same. The migration marker
    is left out: it is the one document a migrated source gains.
    """
    sha = hashlib.sha256()
    kept = sorted((k, v) for k, v in docs.items() if k != MIGRATED_KEY)
    for key, value in kept:
        sha.update(b"D\x00" + key.encode() + b"\x00" + _canonical(value) + b"\n")
    for event in sorted(events, key=lambda e: e.seq):
        head = f"E\x00{event.seq}\x00{event.chapter}\x00".encode()
        sha.update(head + _canonical(event.body) + b"\n")
    last_seq = max((e.seq for e in events), default=0)
    return StoreDigest(sha.hexdigest(), len(kept), len(events), last_seq)


def public_url(url: str) -> str:
    """A URL without its password, for messages and markers (a Redis URL may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _canonical(text: str) -> bytes:
    return encode(json.loads(text)).encode("utf-8")


async def read_all(backend: Backend) -> tuple[dict[str, str], list[StoredEvent]]:
    """Every committed document and event, read without the write lock."""
    docs = await backend.scan("")
    events = [event async for event in backend.events()]
    return docs, events


async def digest_of(backend: Backend) -> StoreDigest:
    """The canonical digest of an opened store."""
    return store_digest(*await read_all(backend))


async def migrate(
    source: Backend,
    destination: Backend,
    *,
    source_url: str,
    destination_url: str,
    force: bool = False,
    on_verified: OnVerified | None = None,
) -> MigrationReport:
    """Copy ``source`` into ``destination``, verify, switch, mark the source (see above).

    Both backends must be open. A non-empty destination is refused unless
    ``force``; even then its history must be a prefix of the source's, since
    the contract can append events but never rewrite them.
    """

    def refuse(reason: str) -> MigrationError:
        return MigrationError(public_url(source_url), public_url(destination_url), reason)

    if source.location == destination.location and source.scheme == destination.scheme:
        raise refuse("the source and the destination are the same store")
    async with source.exclusive() as session:
        marker = await session.read(MIGRATED_KEY)
        if marker is not None:
            moved = json.loads(marker).get("url")
            raise refuse(f"the source was already migrated to {moved}; it is a read-only backup")
        docs, events = await read_all(source)
        expected = store_digest(docs, events)
        replaced = await _copy(destination, docs, events, force, refuse)
        failpoint("migrate.after_copy")
        found = await digest_of(destination)
        if found != expected:
            raise refuse(
                f"the copy does not verify (source {expected.sha256[:12]}, "
                f"copy {found.sha256[:12]}); the run stays on the source"
            )
        failpoint("migrate.after_verify")
        if on_verified is not None:
            await on_verified()
        failpoint("migrate.after_switch")
        marked = await _mark(session, destination_url, expected)
    await source.after_release()
    return MigrationReport(
        public_url(source_url), public_url(destination_url), expected, replaced, marked
    )


async def _copy(
    destination: Backend,
    docs: dict[str, str],
    events: list[StoredEvent],
    force: bool,
    refuse: Callable[[str], MigrationError],
) -> bool:
    """One commit that makes the destination hold exactly ``docs`` and ``events``."""
    async with destination.exclusive() as target:
        present = await target.scan("")
        last = await target.last_seq()
        if (present or last) and not force:
            raise refuse(
                f"the destination is not empty ({len(present)} documents, {last} events); "
                "choose a new store, or pass --force to replace its documents"
            )
        if last:
            await _check_prefix(destination, events, last, refuse)
        writes: dict[str, str | None] = {key: None for key in present if key not in docs}
        writes.update(docs)
        await target.commit(writes, [e for e in events if e.seq > last])
    await destination.after_release()
    return bool(present or last)


async def _check_prefix(
    destination: Backend,
    events: list[StoredEvent],
    last: int,
    refuse: Callable[[str], MigrationError],
) -> None:
    """A destination's history can only be completed, never rewritten."""
    theirs = [e async for e in destination.events()]
    ours = [e for e in events if e.seq <= last]
    same = len(theirs) == len(ours) and all(
        (a.seq, a.chapter, _canonical(a.body)) == (b.seq, b.chapter, _canonical(b.body))
        for a, b in zip(theirs, ours, strict=True)
    )
    if not same:
        raise refuse(
            "the destination's event history differs from the source's and cannot be "
            "rewritten; remove the destination store first"
        )


async def _mark(session: WriteSession, destination_url: str, digest: StoreDigest) -> bool:
    """Mark the old store a backup; a failure here (disk full) no longer undoes the switch."""
    at = utc_iso()
    marker = {"url": public_url(destination_url), "at": at, "sha256": digest.sha256}
    try:
        await session.commit({MIGRATED_KEY: encode(marker)}, [])
    except StateError:
        return False  # the report says so; the caller tells the user
    return True
