"""Group commit: many writers' transactions, one durable commit.

Writers in one process queue FIFO for a single slot. The first writer of a
group takes the backend's cross-process write lock; each writer runs its body
alone and in order, seeing everything written before it. When a writer's body
ends and others are queued, it hands the slot on and waits; the last writer of
the group (no one queued, or the group is full) commits everything at once,
releases the lock, makes the commit durable, and only then are all the group's
writers told they committed. Each writer's transaction stays atomic (its
writes join the group only if its body succeeds) and is durable when it
returns; the group amortizes the lock, the fsync and the file rewrite.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType

from state.backend import Backend, WriteSession
from state.errors import StoreMigratedError
from state.gate import OperationGate
from state.metrics import Outcome, StoreMetrics
from state.schema import MIGRATED_KEY
from state.transaction import GroupBuffer, Transaction

MAX_GROUP = 64


@dataclass
class _Group:
    buffer: GroupBuffer
    lock_cm: AbstractAsyncContextManager[WriteSession]
    members: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class GroupCommitter:
    """Serializes a process's writers and batches their commits."""

    def __init__(
        self,
        backend: Backend,
        metrics: StoreMetrics,
        max_group: int = MAX_GROUP,
        gate: OperationGate | None = None,
    ) -> None:
        # ``backend`` may be replaced while the gate is paused (no group is open then).
        self.backend = backend
        self.metrics = metrics
        self.max_group = max_group
        self.gate = gate or OperationGate()
        self._slot = asyncio.Lock()  # FIFO among this process's writers
        self._queued = 0
        self._group: _Group | None = None
        self._rescuers: set[asyncio.Task[None]] = set()

    def transaction(self, op: str = "transaction") -> _TransactionContext:
        return _TransactionContext(self, op)

    async def _enter(self) -> _Group:
        self._queued += 1
        try:
            await self._slot.acquire()
        except BaseException:
            self._queued -= 1
            self._rescue_orphan()
            raise
        self._queued -= 1
        if self._group is not None:
            return self._group
        try:
            lock_cm = self.backend.exclusive()
            buffer = GroupBuffer(session=await lock_cm.__aenter__())
        except BaseException:
            self._slot.release()
            raise
        try:
            await self._refuse_if_migrated(buffer.session)
        except BaseException:
            await lock_cm.__aexit__(None, None, None)
            self._slot.release()
            raise
        self._group = _Group(buffer=buffer, lock_cm=lock_cm)
        return self._group

    async def _refuse_if_migrated(self, session: WriteSession) -> None:
        """A migrated store is a read-only backup: a writer that was waiting for its lock
        while the migration ran learns where the store went, instead of writing here."""
        marker = await session.read(MIGRATED_KEY)
        if marker is not None:
            moved_to = json.loads(marker).get("url", "another store")
            raise StoreMigratedError(self.backend.location, moved_to)

    def _rescue_orphan(self) -> None:
        """A writer was handed the slot's turn but is gone (cancelled while queued).

        The writers of the open group wait for someone to close it; if no one is
        left to take the slot, close the group from a task of its own.
        """
        group = self._group
        if group is None or self._queued > 0 or self._slot.locked():
            return
        task = asyncio.get_running_loop().create_task(self._close_orphan(group))
        self._rescuers.add(task)
        task.add_done_callback(self._rescuers.discard)

    async def _close_orphan(self, group: _Group) -> None:
        await self._slot.acquire()
        if self._group is not group:
            self._slot.release()
            return
        # The group's writers receive the outcome, error or not.
        with contextlib.suppress(Exception):
            await self._close(group)

    async def _leave(self, group: _Group) -> float:
        """Hand the slot on within the group, or close the group; raises if the commit fails.

        Returns when this writer stopped holding the slot (for the hold-time metric).
        """
        group.members += 1
        cancelled = False
        if self._queued == 0 and group.members < self.max_group:
            # Let writers that are ready to run reach the queue and join this commit.
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                # We hold the slot: leaving now would leave the group open with no one to
                # close it and every later writer waiting. Close it, then go.
                cancelled = True
        if cancelled:
            await self._close(group)
            raise asyncio.CancelledError
        if self._queued > 0 and group.members < self.max_group:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            group.waiters.append(done)
            self._slot.release()
            released = time.perf_counter()
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                done.add_done_callback(_outcome_unheard)  # nobody is left to hear it
                raise
            return released
        await self._close(group)
        return time.perf_counter()

    async def _close(self, group: _Group) -> None:
        self._group = None
        error: BaseException | None = None
        try:
            buf = group.buffer
            try:
                if buf.writes or buf.events:
                    await buf.session.commit(buf.writes, buf.events)
            finally:
                await group.lock_cm.__aexit__(None, None, None)
            await self.backend.after_release()
        except BaseException as exc:  # noqa: BLE001 - handed to every writer of the group below
            error = exc
        finally:
            self._slot.release()
        for waiter in group.waiters:
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
        if error is not None:
            raise error


def _outcome_unheard(done: asyncio.Future[None]) -> None:
    """Retrieve the outcome of a group whose writer was cancelled while it waited."""
    if not done.cancelled():
        done.exception()


_current: contextvars.ContextVar[GroupCommitter | None] = contextvars.ContextVar(
    "state_transaction", default=None
)


class _TransactionContext:
    def __init__(self, committer: GroupCommitter, op: str) -> None:
        self._committer = committer
        self._op = op
        self._group: _Group | None = None
        self._tx: Transaction | None = None
        self._asked = 0.0
        self._held = 0.0
        self._token: contextvars.Token[GroupCommitter | None] | None = None
        self._admitted: contextvars.Token[OperationGate | None] | None = None

    async def __aenter__(self) -> Transaction:
        if _current.get() is self._committer:
            # The outer transaction holds the slot the inner one would wait for.
            raise RuntimeError("a transaction cannot be opened inside another on the same store")
        gate = self._committer.gate
        self._admitted = await gate.enter()  # waits while a migration has the store paused
        self._token = _current.set(self._committer)
        self._asked = time.perf_counter()
        try:
            self._group = await self._committer._enter()
        except BaseException:
            # No __aexit__ follows a failed __aenter__: a later transaction must not
            # find this one still marked open (a lock timeout, a store that is gone).
            _current.reset(self._token)
            gate.leave(self._admitted)
            raise
        self._held = time.perf_counter()
        self._tx = Transaction(self._group.buffer)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        assert self._tx is not None
        if self._token is not None:
            _current.reset(self._token)
        outcome: Outcome = "abort" if exc_type is not None else self._tx.outcome
        if exc_type is None:
            self._tx._merge_into_group()
        else:
            self._tx._discard()
        released = time.perf_counter()
        try:
            released = await self._committer._leave(self._group)
        except BaseException:
            if exc_type is None:
                outcome = "error"
                raise
            # This transaction was aborted anyway; the group's other writers get the error.
        finally:
            self._committer.gate.leave(self._admitted)
            wait = self._held - self._asked
            latency = time.perf_counter() - self._asked
            self._committer.metrics.record(self._op, wait, released - self._held, outcome, latency)
