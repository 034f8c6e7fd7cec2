"""StateManager: the typed, event-sourced story state over any backend.

Keys it keeps (documents of the backend):

- ``characters/<name>``, ``foreshadowing/<id>``, ``conflicts/<id>``: the latest state
- ``initial/<key>``: the state before chapter 1
- ``fieldlog/<key>``: per field, the value each kept chapter set (derived from events)
- ``kept/<chapter>``: which attempt of a chapter counts, and what it touched
- ``applied/<idempotency key>``: deltas already applied (what makes apply idempotent)
- ``chapters/<chapter>``: chapter records
- ``meta/schema``: when the store was initialized
- ``lease/<name>``: who is writing what, until when (see ``state.leases``)

Every committed delta is also an event in the log; ``snapshot(as_of_chapter=k)``
folds the kept events of chapters before k over the initial state.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from state.backend import Backend
from state.fold import FieldLog, field_value_before, fold, materialize
from state.gate import OperationGate
from state.group_commit import GroupCommitter
from state.leases import LEASE_PREFIX, Holder, Lease, check_fence, claim_in, lease_key
from state.metrics import StoreMetrics
from state.models import (
    STORY_KINDS,
    ApplyResult,
    ChapterRecord,
    Conflicting,
    Event,
    FieldChange,
    RewindResult,
    StateDelta,
    StoryState,
    utc_iso,
)
from state.schema import SCHEMA_VERSION
from state.transaction import Transaction

_STORY_PREFIXES = tuple(f"{kind}/" for kind in STORY_KINDS)


def chapter_key(chapter: int) -> str:
    return f"chapters/{chapter:06d}"


def kept_key(chapter: int) -> str:
    return f"kept/{chapter:06d}"


class StateManager:
    """One async API over a backend; create it with ``state.open_state(url)``."""

    def __init__(self, backend: Backend, url: str) -> None:
        self.backend = backend
        self.url = url
        self.metrics = StoreMetrics(backend.scheme)
        self.gate = OperationGate()
        self._committer = GroupCommitter(backend, self.metrics, gate=self.gate)

    # -- raw transactions --------------------------------------------------------

    def transaction(self, op: str = "transaction") -> AbstractAsyncContextManager[Transaction]:
        """``async with manager.transaction() as tx``: a measured read-modify-write view."""
        return self._committer.transaction(op)

    @asynccontextmanager
    async def _read(self, op: str) -> AsyncIterator[None]:
        async with self.gate.admitted():
            started = time.perf_counter()
            yield
            self.metrics.record(op, 0.0, time.perf_counter() - started, "read")

    def switch_backend(self, backend: Backend, url: str) -> None:
        """Go on over another (opened) backend; only while ``gate.paused()``, by a migration."""
        if self.gate.in_flight:
            raise RuntimeError("switch_backend needs the gate paused with nothing in flight")
        self.backend = backend
        self.url = url
        self.metrics.backend = backend.scheme
        self._committer.backend = backend  # no group is open while nothing is in flight

    # -- setting up ----------------------------------------------------------------

    async def initialize(self, state: StoryState) -> bool:
        """Store the state before chapter 1; False (and nothing changed) if already done."""
        async with self.transaction("initialize") as tx:
            if await tx.get("meta/schema") is not None:
                return False
            for key, doc in state.documents().items():
                await tx.put(f"initial/{key}", doc)
                await tx.put(key, doc)
            await tx.put("meta/schema", {"version": SCHEMA_VERSION, "initialized_at": utc_iso()})
            return True

    async def is_initialized(self) -> bool:
        return await self.backend.get("meta/schema") is not None

    async def put_meta(self, name: str, doc: dict[str, Any]) -> None:
        """Keep a named document beside the story (``meta/<name>``), e.g. the outline."""
        if not name or "/" in name or name == "schema":
            raise ValueError(f"meta name must be one path segment other than 'schema': {name!r}")
        async with self.transaction("put_meta") as tx:
            await tx.put(f"meta/{name}", doc)

    async def meta(self, name: str) -> dict[str, Any] | None:
        """A document kept with ``put_meta``, or None."""
        async with self._read("meta"):
            raw = await self.backend.get(f"meta/{name}")
            return None if raw is None else dict(json.loads(raw))

    async def document(self, key: str) -> dict[str, Any] | None:
        """One document as committed (a lock-free read), or None."""
        async with self._read("document"):
            raw = await self.backend.get(key)
            return None if raw is None else dict(json.loads(raw))

    async def documents(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every document under ``prefix`` as committed (a lock-free read), by key."""
        async with self._read("documents"):
            docs = await self.backend.scan(prefix)
            return {key: dict(json.loads(raw)) for key, raw in docs.items()}

    # -- applying deltas -------------------------------------------------------------

    async def apply(
        self,
        delta: StateDelta,
        lease: Lease | None = None,
        also: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> ApplyResult:
        """Commit a chapter's delta (and its record) atomically; a repeat is a no-op.

        The result lists the changes whose ``old`` differs from the state as of
        the chapter (the chapter read a stale state) and the later chapters
        whose own reads this delta now contradicts. With a ``lease``, the delta
        commits only if the lease is still held (else ``LeaseLostError``), and
        the lease is released in the same transaction. ``also`` runs last in the
        same transaction (what else a finished chapter leaves, e.g. its job's outcome).
        """
        async with self.transaction("apply") as tx:
            if lease is not None:
                await check_fence(tx, lease)
            result = await _apply_in(tx, delta)
            if also is not None:
                await also(tx)
            return result

    async def rewind(self, to_chapter: int) -> RewindResult:
        """Forget chapters ``to_chapter`` and later, so they can be written again.

        The story state becomes what the chapters before ``to_chapter`` left;
        those chapters' records and kept attempts go, and a ``rewind`` event
        names what was dropped. Their deltas stay in the history (shown as
        superseded), and their idempotency keys stay used, so a new attempt
        always has a new number.
        """
        async with self.transaction("rewind") as tx:
            dropped = {
                int(key.removeprefix("kept/")): doc["seq"]
                for key, doc in (await tx.scan("kept/")).items()
                if int(key.removeprefix("kept/")) >= to_chapter
            }
            records = [
                int(key.removeprefix("chapters/"))
                for key in await tx.scan("chapters/")
                if int(key.removeprefix("chapters/")) >= to_chapter
            ]
            for chapter in dropped:
                await tx.delete(kept_key(chapter))
            for chapter in records:
                await tx.delete(chapter_key(chapter))
            fields = await _drop_field_entries(tx, to_chapter)
            seq = None
            if dropped or records:
                body = {"kind": "rewind", "to_chapter": to_chapter, "at": utc_iso()}
                body["dropped"] = {str(c): s for c, s in sorted(dropped.items())}
                seq = await tx.append_event(body, chapter=to_chapter)
            return RewindResult(
                to_chapter=to_chapter,
                chapters=sorted(set(dropped) | set(records)),
                fields=fields,
                seq=seq,
            )

    # -- leases ------------------------------------------------------------------------

    async def claim_lease(
        self, name: str, holder: Holder, ttl_s: float
    ) -> tuple[Lease | None, Lease | None]:
        """Take ``name`` (or renew it, if ``holder`` has it): (the lease or None if another
        live holder has it; the stale lease taken over, if any)."""
        async with self.transaction("lease") as tx:
            return await claim_in(tx, name, holder, ttl_s)

    async def renew_leases(self, leases: list[Lease], ttl_s: float) -> list[Lease | None]:
        """Extend each lease in one transaction; None where it was lost to another holder."""
        async with self.transaction("lease") as tx:
            renewed: list[Lease | None] = []
            for lease in leases:
                doc = await tx.get(lease_key(lease.name))
                if doc is None or Lease.from_doc(lease.name, doc).holder != lease.holder:
                    renewed.append(None)
                    continue
                taken, _ = await claim_in(tx, lease.name, lease.holder, ttl_s)
                renewed.append(taken)
            return renewed

    async def release_lease(self, lease: Lease) -> None:
        """Give ``lease`` up (a no-op if it is no longer the holder's)."""
        async with self.transaction("lease") as tx:
            doc = await tx.get(lease_key(lease.name))
            if doc is not None and Lease.from_doc(lease.name, doc).holder == lease.holder:
                await tx.delete(lease_key(lease.name))

    async def leases(self) -> list[Lease]:
        """Every lease in the store, live or stale."""
        async with self._read("leases"):
            docs = await self.backend.scan(LEASE_PREFIX)
            return [
                Lease.from_doc(key.removeprefix(LEASE_PREFIX), json.loads(raw))
                for key, raw in sorted(docs.items())
            ]

    # -- reading -----------------------------------------------------------------------

    async def snapshot(self, as_of_chapter: int | None = None) -> StoryState:
        """The story as chapters before ``as_of_chapter`` left it; None for the latest."""
        async with self._read("snapshot"):
            if as_of_chapter is None:
                view = await self.backend.read_view(_STORY_PREFIXES, None)
                docs = {k: json.loads(v) for k, v in view.docs.items()}
                return StoryState.from_documents(docs, version=view.last_seq)
            view = await self.backend.read_view(("initial/", "kept/"), as_of_chapter)
            initial = {
                k.removeprefix("initial/"): json.loads(v)
                for k, v in view.docs.items()
                if k.startswith("initial/")
            }
            kept = _kept_seqs(view.docs)
            events = sorted(
                (json.loads(e.body) for e in view.events if e.seq in kept),  # kept: deltas only
                key=lambda body: (body["chapter"], body["seq"]),
            )
            changes = ((c["key"], c["field"], c["new"]) for body in events for c in body["changes"])
            version = max((body["seq"] for body in events), default=0)
            return StoryState.from_documents(fold(initial, changes), version=version)

    async def history(
        self,
        chapter: int | None = None,
        key: str | None = None,
        after_seq: int = 0,
        include_superseded: bool = True,
    ) -> list[Event]:
        """Committed deltas in commit order: who changed which field, from what to what, when."""
        async with self._read("history"):
            kept = _kept_seqs(await self.backend.scan("kept/"))
            result: list[Event] = []
            async for stored in self.backend.events(after_seq=after_seq):
                body = json.loads(stored.body)
                if body.get("kind") != "delta":
                    continue  # an event a raw transaction appended: not a delta
                if chapter is not None and body["chapter"] != chapter:
                    continue
                event = Event.model_validate({**body, "superseded": stored.seq not in kept})
                if key is not None:
                    event.changes = [c for c in event.changes if c.key == key]
                    if not event.changes:
                        continue
                if include_superseded or not event.superseded:
                    result.append(event)
            return result

    async def chapters(self) -> dict[int, ChapterRecord]:
        async with self._read("chapters"):
            docs = await self.backend.scan("chapters/")
            records = [ChapterRecord.model_validate_json(v) for v in docs.values()]
            return {r.chapter: r for r in records}

    async def put_chapter(self, record: ChapterRecord) -> None:
        """Write a chapter record on its own (status changes outside a delta)."""
        async with self.transaction("put_chapter") as tx:
            await tx.put(chapter_key(record.chapter), record.model_dump(mode="json"))

    async def close(self) -> None:
        await self.backend.close()


async def _drop_field_entries(tx: Transaction, to_chapter: int) -> int:
    """Remove what chapters ``to_chapter`` and later set from every field log; rebuild the
    documents from their initial version and what is left. Returns the fields changed."""
    changed = 0
    for name, log in (await tx.scan("fieldlog/")).items():
        kept = {f: [e for e in entries if e["c"] < to_chapter] for f, entries in log.items()}
        dropped = sum(len(entries) for entries in log.values()) - sum(map(len, kept.values()))
        if not dropped:
            continue
        changed += dropped
        key = name.removeprefix("fieldlog/")
        kept = {f: entries for f, entries in kept.items() if entries}
        await tx.put(name, kept)
        doc = materialize(await tx.get(f"initial/{key}"), kept)
        if doc is None:
            await tx.delete(key)
        else:
            await tx.put(key, doc)
    return changed


def _kept_seqs(docs: dict[str, str]) -> set[int]:
    return {json.loads(v)["seq"] for k, v in docs.items() if k.startswith("kept/")}


async def _apply_in(tx: Transaction, delta: StateDelta) -> ApplyResult:
    """The body of ``apply``: idempotency, supersession, field logs, the event."""
    idem = delta.idempotency_key
    done = await tx.get(f"applied/{idem}")
    if done is not None:
        tx.outcome = "duplicate"
        return ApplyResult(applied=False, duplicate=True, idempotency_key=idem, **done)
    previous = await tx.get(kept_key(delta.chapter))
    if previous is not None and previous["attempt"] > delta.attempt:
        # A newer attempt already counts: record this one in the history only.
        seq = await tx.append_event(_event_body(delta), chapter=delta.chapter)
        await tx.put(f"applied/{idem}", {"seq": seq})
        return ApplyResult(applied=True, duplicate=False, seq=seq, idempotency_key=idem)
    logs = _FieldLogs(tx)
    if previous is not None:
        for key, field in previous["touched"]:
            (await logs.of(key)).setdefault(field, [])
            logs.drop_chapter(key, field, delta.chapter)
    conflicts: list[Conflicting] = []
    touched: list[list[str]] = []
    for change in _last_per_field(delta.changes):
        log = (await logs.of(change.key)).setdefault(change.field, [])
        initial = await logs.initial_value(change.key, change.field)
        actual = field_value_before(log, delta.chapter, initial)
        if actual != change.old:
            conflicts.append(
                Conflicting(key=change.key, field=change.field, expected=change.old, actual=actual)
            )
        logs.set_entry(change, delta.chapter, delta.attempt)
        touched.append([change.key, change.field])
    conflicts += await _stale_reads(logs, delta)
    invalidated = await logs.invalidated_after(delta.chapter)
    await logs.write_back()
    seq = await tx.append_event(_event_body(delta), chapter=delta.chapter)
    await tx.put(
        kept_key(delta.chapter), {"attempt": delta.attempt, "seq": seq, "touched": touched}
    )
    if delta.record is not None:
        record = delta.record.model_copy(
            update={"chapter": delta.chapter, "attempt": delta.attempt}
        )
        await tx.put(chapter_key(delta.chapter), record.model_dump(mode="json"))
    outcome = {
        "seq": seq,
        "conflicts": [c.model_dump(mode="json") for c in conflicts],
        "invalidated_chapters": invalidated,
    }
    await tx.put(f"applied/{idem}", outcome)
    return ApplyResult(applied=True, duplicate=False, idempotency_key=idem, **outcome)


async def _stale_reads(logs: _FieldLogs, delta: StateDelta) -> list[Conflicting]:
    """Reads whose value differs from the state as of the chapter (changes excluded)."""
    stale = []
    for read in delta.reads:
        log = (await logs.of(read.key)).get(read.field, [])
        initial = await logs.initial_value(read.key, read.field)
        actual = field_value_before(log, delta.chapter, initial)
        if actual != read.value:
            stale.append(
                Conflicting(key=read.key, field=read.field, expected=read.value, actual=actual)
            )
    return stale


def _last_per_field(changes: list[FieldChange]) -> list[FieldChange]:
    """If a delta sets a field twice, the last setting is the one that counts."""
    by_field: dict[tuple[str, str], FieldChange] = {}
    for change in changes:
        by_field.pop((change.key, change.field), None)
        by_field[(change.key, change.field)] = change
    return list(by_field.values())


def _event_body(delta: StateDelta) -> dict[str, Any]:
    return {
        "kind": "delta",
        "idempotency_key": delta.idempotency_key,
        "run_id": delta.run_id,
        "chapter": delta.chapter,
        "attempt": delta.attempt,
        "author": delta.author,
        "reason": delta.reason,
        "digest": delta.record.digest if delta.record is not None else None,
        "at": utc_iso(),
        "changes": [c.model_dump(mode="json") for c in delta.changes],
        "reads": [r.model_dump(mode="json") for r in delta.reads],
    }


class _FieldLogs:
    """The field logs and documents one apply touches, loaded once, written once."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._logs: dict[str, FieldLog] = {}
        self._initial: dict[str, dict[str, Any] | None] = {}
        self._touched: set[tuple[str, str]] = set()

    async def of(self, key: str) -> FieldLog:
        if key not in self._logs:
            self._logs[key] = await self._tx.get(f"fieldlog/{key}") or {}
            self._initial[key] = await self._tx.get(f"initial/{key}")
        return self._logs[key]

    async def initial_value(self, key: str, field: str) -> Any:
        await self.of(key)
        initial = self._initial[key]
        return None if initial is None else initial.get(field)

    def drop_chapter(self, key: str, field: str, chapter: int) -> None:
        log = self._logs[key][field]
        log[:] = [e for e in log if e["c"] != chapter]
        self._touched.add((key, field))

    def set_entry(self, change: FieldChange, chapter: int, attempt: int) -> None:
        log = self._logs[change.key][change.field]
        log[:] = [e for e in log if e["c"] != chapter]
        log.append({"c": chapter, "a": attempt, "old": change.old, "new": change.new})
        log.sort(key=lambda e: e["c"])
        self._touched.add((change.key, change.field))

    async def invalidated_after(self, chapter: int) -> list[int]:
        """Later chapters whose recorded ``old`` no longer matches what precedes them."""
        stale: set[int] = set()
        for key, field in self._touched:
            log = self._logs[key][field]
            initial = await self.initial_value(key, field)
            later = next((e for e in log if e["c"] > chapter), None)
            if later is not None and field_value_before(log, later["c"], initial) != later["old"]:
                stale.add(later["c"])
        return sorted(stale)

    async def write_back(self) -> None:
        """Write the logs and documents of the fields changed (not those only read)."""
        changed = {key for key, _ in self._touched}
        for key, log in self._logs.items():
            if key not in changed:
                continue
            log = {f: entries for f, entries in log.items() if entries}
            await self._tx.put(f"fieldlog/{key}", log)
            doc = materialize(self._initial[key], log)
            if doc is None:
                await self._tx.delete(key)
            else:
                await self._tx.put(key, doc)
