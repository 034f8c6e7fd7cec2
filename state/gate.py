"""A gate every state operation passes: pausing it gives a safe point.

An online migration pauses the gate: operations that have not started wait at
it, operations in flight finish, and once none is left the store can be
copied and swapped under the manager. Operations nested inside one already
admitted (same task context) pass straight through, so a caller holding the
gate never waits for itself.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_inside: contextvars.ContextVar[OperationGate | None] = contextvars.ContextVar(
    "state_gate", default=None
)


class OperationGate:
    """Counts operations in flight; ``paused()`` holds new ones back until it ends."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._pausing = asyncio.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def enter(self) -> contextvars.Token[OperationGate | None] | None:
        """Take an operation's place (waiting while paused); give the result to ``leave``.

        Plain methods rather than a generator-based context manager: every state
        operation passes here, and this keeps it to a few hundred nanoseconds.
        """
        if _inside.get() is self:
            return None  # nested in an operation already admitted
        while not self._open.is_set():
            await self._open.wait()
        self._in_flight += 1
        self._idle.clear()
        return _inside.set(self)

    def leave(self, token: contextvars.Token[OperationGate | None] | None) -> None:
        """Give back the place ``enter`` took."""
        if token is None:
            return
        _inside.reset(token)
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one operation's place for the life of the context."""
        token = await self.enter()
        try:
            yield
        finally:
            self.leave(token)

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """New operations wait; returns once the ones in flight have finished."""
        async with self._pausing:
            self._open.clear()
            try:
                await self._idle.wait()
                yield
            finally:
                self._open.set()
