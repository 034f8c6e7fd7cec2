import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from state.backends.proclock import ProcessLock
from state.errors import LockTimeoutError


async def test_second_holder_waits_until_release(tmp_path: Path) -> None:
    first, second = ProcessLock(tmp_path / "x.lock"), ProcessLock(tmp_path / "x.lock")
    first.open()
    second.open()
    await first.acquire()
    waiter = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    first.release()
    await asyncio.wait_for(waiter, 5)
    second.release()
    first.close()
    second.close()


async def test_timeout_names_the_lock_and_the_wait(tmp_path: Path) -> None:
    holder, other = (
        ProcessLock(tmp_path / "y.lock"),
        ProcessLock(tmp_path / "y.lock", timeout_s=0.2),
    )
    holder.open()
    other.open()
    await holder.acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeoutError) as info:
        await other.acquire()
    assert info.value.path.endswith("y.lock")
    assert info.value.waited_s >= 0.2
    assert time.monotonic() - started < 2
    holder.release()
    # The abandoned wait lets go as soon as it gets the lock: the lock is free again.
    await asyncio.sleep(0.1)
    third = ProcessLock(tmp_path / "y.lock", timeout_s=2)
    third.open()
    await third.acquire()
    third.release()
    for lock in (holder, other, third):
        lock.close()


async def test_event_loop_stays_free_while_waiting(tmp_path: Path) -> None:
    holder, waiter = ProcessLock(tmp_path / "z.lock"), ProcessLock(tmp_path / "z.lock")
    holder.open()
    waiter.open()
    await holder.acquire()
    task = asyncio.create_task(waiter.acquire())
    ticks = 0
    for _ in range(10):
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 10
    assert not task.done()
    holder.release()
    await task
    waiter.release()
    holder.close()
    waiter.close()


@pytest.fixture
def alarm_free() -> Iterator[None]:
    """pytest-timeout keeps SIGALRM for itself; a wait on the loop's thread needs it free.

    Put the plugin's handler and timer aside for the test, and back afterwards.
    """
    handler = signal.getsignal(signal.SIGALRM)
    remaining, interval = signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, handler)
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, remaining, interval)


def opened(path: Path, timeout_s: float = 60.0) -> ProcessLock:
    lock = ProcessLock(path, timeout_s)
    lock.open()
    return lock


async def test_a_writer_alone_on_its_loop_waits_without_a_thread(
    tmp_path: Path, alarm_free: None
) -> None:
    holder, waiter = opened(tmp_path / "a.lock"), opened(tmp_path / "a.lock")
    await holder.acquire()
    threading.Timer(0.1, holder.release).start()
    await waiter.acquire()  # returns once the holder lets go
    assert waiter._executor is None
    assert not opened(tmp_path / "a.lock").try_acquire()  # the waiter holds it now
    waiter.release()
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


async def test_a_wait_on_the_loop_thread_times_out_and_keeps_nothing(
    tmp_path: Path, alarm_free: None
) -> None:
    holder, waiter = opened(tmp_path / "b.lock"), opened(tmp_path / "b.lock", timeout_s=0.2)
    await holder.acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeoutError) as info:
        await waiter.acquire()
    assert info.value.waited_s >= 0.2
    assert time.monotonic() - started < 2
    assert waiter._executor is None
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    holder.release()
    assert opened(tmp_path / "b.lock").try_acquire()  # neither the queue nor the lock is kept


async def test_an_interrupted_wait_on_the_loop_thread_keeps_nothing(
    tmp_path: Path, alarm_free: None
) -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise RuntimeError("interrupted")

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        holder, waiter = opened(tmp_path / "c.lock"), opened(tmp_path / "c.lock")
        await holder.acquire()
        main = threading.main_thread().ident
        assert main is not None
        threading.Timer(0.1, signal.pthread_kill, (main, signal.SIGUSR1)).start()
        with pytest.raises(RuntimeError, match="interrupted"):
            await waiter.acquire()
        holder.release()
        assert opened(tmp_path / "c.lock").try_acquire()
    finally:
        signal.signal(signal.SIGUSR1, previous)


async def test_a_wait_goes_to_a_thread_when_someone_else_uses_sigalrm(tmp_path: Path) -> None:
    # Under pytest-timeout SIGALRM has the plugin's handler: it must stay untouched.
    handler = signal.getsignal(signal.SIGALRM)
    assert handler is not signal.SIG_DFL
    holder, waiter = opened(tmp_path / "d.lock"), opened(tmp_path / "d.lock")
    await holder.acquire()
    threading.Timer(0.1, holder.release).start()
    await waiter.acquire()
    assert waiter._executor is not None
    assert signal.getsignal(signal.SIGALRM) is handler
    waiter.release()
