"""First come, first served among the processes waiting for a lock: a ticket queue.

A waiter takes the next ticket ``t`` (a counter at the start of ``<lock>.tickets``,
read and bumped under a short lock of its own), holds slot ``t`` while it waits
and while it holds the lock, and waits for slot ``t - 1``: its predecessor lets go
of that slot only after it has let go of the lock. So each waiter sleeps once, on
one lock nobody else waits for, and only it is woken when its predecessor is
done. Nobody jumps the queue: a process coming back for the lock takes a new
ticket, behind everyone already waiting, even while the next waiter has been
woken but not yet scheduled (with a plain ``flock`` that process would take the
free lock first). The kernel drops a dead process's locks, so its successor goes
on: straight to the lock, where it may overtake those that were ahead of the dead
one (one reordering per waiter killed in the queue; the lock still excludes).
When the queue is empty (the last ticket's holder has left) a process may take
the lock without a ticket: there is nobody to go ahead of (``empty``).

Slots are one-byte ranges of the tickets file, so the file stays small. On Linux
they are open-file-description locks (owned by the open file, like ``flock``);
elsewhere POSIX record locks, which a process shares among all its open files:
there the order among several locks on one file in one process is not kept.
Mutual exclusion never rests on the queue (see ``state.backends.proclock``): a slot only
orders the waiters.

A slot is used again ``SLOTS`` tickets later. A waiter still looking at its
predecessor's slot when that slot is taken again would wait for a later ticket
(a cycle), so ``SLOTS`` is far above any number of waiters one store will see.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
import sys
from pathlib import Path

SLOTS = 4096
_MUTEX = SLOTS  # the byte range that guards the counter
_COUNTER = struct.Struct("<Q")
# struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid, padding.
_FLOCK = struct.Struct("@hhqqi4x")
# Open-file-description locks where they exist (the tests switch them off to try the rest).
USE_OFD = (
    sys.platform.startswith("linux")
    and hasattr(fcntl, "F_OFD_SETLKW")
    and sys.maxsize > 2**32
    and _FLOCK.size == 32
)


class TicketQueue:
    """The queue in front of one lock, as seen by one waiter: ``ticket`` is its place
    (None: not queued), ``passed`` whether the waiter ahead of it has let go."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ticket: int | None = None
        self.passed = False
        self._fd: int | None = None
        self._counter: mmap.mmap | None = None
        self._ofd = USE_OFD

    def open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < _COUNTER.size:
                # Written once: the mapping below needs the bytes (and never allocates).
                self._range(fd, _MUTEX, blocking=True)
                try:
                    if os.fstat(fd).st_size < _COUNTER.size:
                        os.pwrite(fd, _COUNTER.pack(0), 0)
                finally:
                    self._unlock(fd, _MUTEX)
            # The counter is read and bumped through a shared mapping: a write(2) per
            # ticket would touch the file's mtime, and every fsync anyone runs on
            # this file system would then carry that inode in its journal commit.
            self._counter = mmap.mmap(fd, _COUNTER.size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def close(self) -> None:
        if self._counter is not None:
            self._counter.close()
        self._counter = None
        if self._fd is not None:
            os.close(self._fd)  # drops every range this descriptor holds
        self._fd = None
        self.ticket, self.passed = None, False

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"queue {self.path} is not open")
        return self._fd

    def empty(self) -> bool:
        """Nobody is queued or holding the lock through the queue (the last ticket's
        holder has left). Read without the counter's lock: a ticket taken meanwhile
        is at most one waiter that a caller of this may go ahead of."""
        counter = self._counter
        assert counter is not None
        (next_ticket,) = _COUNTER.unpack_from(counter, 0)
        last = (next_ticket - 1) % SLOTS
        if not self._range(self.fd, last, blocking=False):
            return False
        self._unlock(self.fd, last)
        return True

    def take(self, blocking: bool) -> bool:
        """Join the queue (hold a slot); False if that would wait and ``blocking`` is off."""
        fd = self.fd
        if not self._range(fd, _MUTEX, blocking):
            return False
        try:
            counter = self._counter
            assert counter is not None
            (ticket,) = _COUNTER.unpack_from(counter, 0)
            self.ticket, self.passed = ticket, False  # first: a clean-up must know the slot
            if not self._range(fd, ticket % SLOTS, blocking):
                self.ticket = None
                return False
            _COUNTER.pack_into(counter, 0, (ticket + 1) % 2**63)
        finally:
            self._unlock(fd, _MUTEX)
        return True

    def wait_turn(self, blocking: bool) -> bool:
        """Wait until the waiter ahead has let go of the lock; False if it has not yet
        and ``blocking`` is off."""
        assert self.ticket is not None
        if self.passed:
            return True
        previous = (self.ticket - 1) % SLOTS
        if not self._range(self.fd, previous, blocking):
            return False
        self._unlock(self.fd, previous)
        self.passed = True
        return True

    def leave(self) -> None:
        """Let go of this waiter's place (after the lock); the next waiter goes on."""
        if self.ticket is not None and self._fd is not None:
            self._unlock(self._fd, self.ticket % SLOTS)
        self.ticket, self.passed = None, False

    def abandon(self) -> None:
        """Let go of everything this queue might hold, after an interrupted step."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self._unlock(self._fd, _MUTEX)
            if self.ticket is not None:
                self._unlock(self._fd, (self.ticket - 1) % SLOTS)
        self.leave()

    def _range(self, fd: int, index: int, blocking: bool) -> bool:
        try:
            if self._ofd:
                command = fcntl.F_OFD_SETLKW if blocking else fcntl.F_OFD_SETLK
                fcntl.fcntl(fd, command, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, index, 1, 0))
            else:
                flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
                fcntl.lockf(fd, flags, 1, index, os.SEEK_SET)
        except OSError as exc:
            if not blocking and isinstance(exc, BlockingIOError | PermissionError):
                return False  # EAGAIN or EACCES: held by another
            raise
        return True

    def _unlock(self, fd: int, index: int) -> None:
        if self._ofd:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_UNLCK, os.SEEK_SET, index, 1, 0))
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, index, os.SEEK_SET)
