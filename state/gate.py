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

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one operation's place for the life of the context."""
        if _inside.get() is self:
            yield
            return
        while not self._open.is_set():
            await self._open.wait()
        self._in_flight += 1
        self._idle.clear()
        token = _inside.set(self)
        try:
            yield
        finally:
            _inside.reset(token)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

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
