"""The JSON store's write lock: the ticket queue in front, ``filelock`` for the exclusion.

``ProcessLock`` orders the waiters (``state.lock_queue``) and excludes with a
``flock`` of its own. Here the exclusion is a ``filelock.UnixFileLock`` on the
same file, and it is only ever tried without waiting: a waiter asks for it
once the one ahead of it has let go, when it is free, so filelock's polling
wait never runs. It can still be held then by a process that took it without a
ticket (the queue was empty) or that was behind a killed waiter; that holder is
waited for in the kernel (a shared ``flock`` on our own descriptor is granted
when it lets go), and the try is made again. Nobody polls.

The filelock is per instance (``is_singleton`` off: two stores in one process
exclude each other, as two processes do), shared by the threads of the process
(``thread_local`` off: a wait in a worker thread takes it, the loop's thread
lets it go), never falls back to a soft lock and never deletes the lock file.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from filelock import Timeout, UnixFileLock

from state.proclock import ProcessLock


class QueuedFileLock(ProcessLock):
    """A ``ProcessLock`` whose exclusion is ``filelock``'s; the queue is the same."""

    def __init__(self, path: Path, timeout_s: float = 60.0) -> None:
        super().__init__(path, timeout_s)
        self._filelock = UnixFileLock(
            path,
            mode=0o644,
            thread_local=False,
            is_singleton=False,
            fallback_to_soft=False,
            preserve_lock_file=True,
        )

    def close(self) -> None:
        self._unlock()
        super().close()

    def _try_lock(self) -> bool:
        if self._filelock.is_locked:  # ours already (filelock would count a second level)
            return True
        try:
            self._filelock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    def _lock(self) -> None:
        while not self._try_lock():
            # Held by someone who came without a ticket: sleep until they let go.
            fcntl.flock(self.fd, fcntl.LOCK_SH)
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _unlock(self) -> None:
        if self._filelock.is_locked:
            self._filelock.release(force=True)
