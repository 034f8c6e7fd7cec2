import asyncio
import time
from pathlib import Path

import pytest

from state.errors import LockTimeoutError
from state.proclock import ProcessLock


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
