"""An exclusive lock between processes, over ``flock(2)`` on a lock file.

Why not the ``filelock`` package: its blocking acquire polls ``LOCK_NB`` every
``poll_interval`` (50 ms by default). Under contention the wait is then made
of those sleeps, and a polling waiter loses to whoever happens to ask right
after a release: the unfair, long tail the store must not have. Here the fast
path tries without waiting; when the lock is held, a blocking call (in a
thread of this lock's own, or on the loop's thread, below) sleeps in the
kernel and wakes on the release, so the wait is real contention, not a sleep
schedule. Nor with the queue below in front and filelock only tried without
waiting: its acquire and release cost about 80 us of CPU against 5 us for a
flock on a descriptor kept open, and the JSON store with 20 processes went
from 775 to 498 transactions/s (docs/benchmarks/2026-11-29-filelock-json.md).
filelock is used where waits are rare: run.lock and the publish folder.

Fairness: a plain flock lets the process that just released the lock take it
again at once (its next ``LOCK_NB`` try beats the woken waiter, which still
has to be scheduled), so a few processes run while others starve. Waiters
therefore queue first, in ``state.backends.lock_queue``: a ticket gives each its place,
and a waiter asks for the lock only once the one ahead of it has let go. The
lock itself (``flock``) is what excludes; the queue only orders.

Waiting on the loop's thread: when the waiting task is the only task of its
event loop (a process with one writer), nobody needs the loop during the wait,
and the hop through a worker thread is pure cost: about 80 us of CPU for the
thread, the futures and the wake-up of the loop, and that on two cores shared
by twenty writers is CPU the lock holder does not get. Such a wait blocks in
the kernel on the loop's thread instead, woken by the kernel directly. The lock
timeout is then kept by ``SIGALRM`` (an interval timer and a handler in place
only for the wait), so this is done only on the main thread and only when
nobody else uses ``SIGALRM``; otherwise the wait goes to the thread.

The kernel drops the lock when its holder dies, so a killed writer never
leaves the lock held. The lock file itself is never deleted (deleting a lock
file lets two processes lock two different inodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from state.backends.lock_queue import TicketQueue
from state.backends.loop_company import alone_on_loop
from state.errors import LockTimeoutError, StateOpenError


class _WaitExpired(Exception):
    """Raised by the SIGALRM handler to end a wait on the loop's thread."""


class ProcessLock:
    """Exclusive across processes; callers serialize themselves within a process."""

    def __init__(self, path: Path, timeout_s: float = 60.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None
        self._queue = TicketQueue(path.with_name(path.name + ".tickets"))
        self._executor: ThreadPoolExecutor | None = None
        self._abandoned: asyncio.Future[None] | None = None
        self._giving_up = False
        self._waiting_inline = False  # the SIGALRM handler interrupts only while True

    def open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._queue.open()
        except OSError as exc:
            self.close()
            raise StateOpenError(str(self.path), exc.strerror or str(exc)) from exc

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._queue.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"lock {self.path} is not open")
        return self._fd

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it or waits for it; never wait.

        With nobody queued there is no one to go ahead of, so the lock is taken
        without a ticket (four system calls fewer than through the queue).
        """
        return self._queue.empty() and _try_flock(self.fd)

    def _advance(self, blocking: bool) -> bool:
        """Go as far as possible towards holding the lock: a place in the queue, our
        turn, the lock. True once held; False where a step would wait (``blocking`` off).

        Each step is skipped if done before, so a wait in a thread or on the loop
        goes on from wherever a try without waiting stopped.
        """
        queue = self._queue
        if queue.ticket is None and not queue.take(blocking):
            return False
        if not queue.wait_turn(blocking):
            return False
        if blocking:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return True
        return _try_flock(self.fd)

    async def acquire(self) -> None:
        """Take the lock in turn, waiting on the loop's thread or in a thread of our own."""
        started = time.monotonic()
        if self._abandoned is not None:
            # A wait we gave up on still runs; let it finish and let go first.
            await self._wait_for(asyncio.shield(self._abandoned), started)
            self._abandoned = None
        try:
            if self.try_acquire() or self._advance(blocking=False):
                return
        except BaseException:
            self._queue.abandon()  # a place taken must not stay held for nobody
            raise
        if alone_on_loop() and _may_use_alarm():
            self._acquire_inline(started)
            return
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"flock:{self.path.name}")
        self._giving_up = False
        blocking = loop.run_in_executor(self._executor, self._blocking_acquire)
        try:
            await self._wait_for(asyncio.shield(blocking), started)
        except BaseException:
            # The thread cannot be interrupted: it lets go as soon as it gets the lock.
            self._giving_up = True
            self._abandoned = blocking
            # If the thread got the lock before it saw us give up, let go of it.
            blocking.add_done_callback(lambda _fut: self.release())
            raise

    def _acquire_inline(self, started: float) -> None:
        """Wait in ``flock`` on this thread, for at most what is left of the timeout."""
        remaining = self.timeout_s - (time.monotonic() - started)
        previous = signal.signal(signal.SIGALRM, self._on_alarm)
        try:
            if not self._wait_inline(max(remaining, 1e-6)):
                raise LockTimeoutError(str(self.path), time.monotonic() - started)
        finally:
            self._waiting_inline = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _wait_inline(self, remaining: float) -> bool:
        """True once the lock is held; False if the timer ran out first.

        The handler raises only while ``_waiting_inline`` is set, so once it is
        cleared nothing can interrupt the clean-up; if it fired just after the
        lock was granted, the lock is ours all the same (``LOCK_NB`` on our own
        descriptor says so). The caller disarms the timer.
        """
        self._waiting_inline = True
        try:
            signal.setitimer(signal.ITIMER_REAL, remaining)
            self._advance(blocking=True)
            self._waiting_inline = False
            return True
        except _WaitExpired:
            self._waiting_inline = False
            if self._queue.passed and _try_flock(self.fd):
                return True
            self._queue.abandon()
            return False
        except BaseException:
            self._waiting_inline = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)  # in case the interruption came just after
            self._queue.abandon()
            raise

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._waiting_inline:
            raise _WaitExpired

    def _blocking_acquire(self) -> None:
        try:
            self._advance(blocking=True)
        except BaseException:
            self._queue.abandon()
            raise
        if self._giving_up:
            self.release()

    async def _wait_for(self, fut: asyncio.Future[None], started: float) -> None:
        remaining = self.timeout_s - (time.monotonic() - started)
        try:
            await asyncio.wait_for(fut, timeout=max(remaining, 0.0))
        except TimeoutError:
            raise LockTimeoutError(str(self.path), time.monotonic() - started) from None

    def release(self) -> None:
        """Let go of the lock, then of our place in the queue (the next waiter goes on)."""
        if self._fd is None:  # closed: the kernel dropped the locks with the descriptors
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._queue.leave()


def _may_use_alarm() -> bool:
    """SIGALRM can bound a wait here: main thread, no handler or timer of anyone else's."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
