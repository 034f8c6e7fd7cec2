"""The process lock's queue: waiters in other processes get the lock in the order they came."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from state.backends import lock_queue
from state.backends.lock_queue import SLOTS, TicketQueue
from state.backends.proclock import ProcessLock

WAITER = """
import asyncio, os, sys
from pathlib import Path
import state.backends.lock_queue
state.backends.lock_queue.USE_OFD = sys.argv[3] == "ofd"
from state.backends.proclock import ProcessLock

async def main() -> None:
    lock = ProcessLock(Path(sys.argv[1]))
    lock.open()
    await lock.acquire()
    with open(sys.argv[2], "a") as order:
        order.write(sys.argv[4] + "\\n")
    lock.release()
    lock.close()

asyncio.run(main())
"""


@pytest.fixture(params=["ofd", "posix"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "ofd" and not lock_queue.USE_OFD:
        pytest.skip("no open-file-description locks here")
    monkeypatch.setattr(lock_queue, "USE_OFD", request.param == "ofd")
    return str(request.param)


def tickets_taken(lock_path: Path) -> int:
    data = lock_path.with_name(lock_path.name + ".tickets").read_bytes()[:8]
    return int.from_bytes(data, "little")


def queue_behind(lock_path: Path, order: Path, kind: str, name: str) -> subprocess.Popen[bytes]:
    """Start a waiter in a process of its own; return once it has its place in the queue."""
    before = tickets_taken(lock_path)
    child = subprocess.Popen(
        [sys.executable, "-c", WAITER, str(lock_path), str(order), kind, name],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while tickets_taken(lock_path) == before:
        if child.poll() is not None:
            raise AssertionError(child.communicate()[1].decode())
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.01)
    return child


async def finished(child: subprocess.Popen[bytes]) -> None:
    _, err = await asyncio.to_thread(child.communicate)
    assert child.returncode == 0, err.decode()


async def test_waiters_get_the_lock_in_the_order_they_came(tmp_path: Path, kind: str) -> None:
    path, order = tmp_path / "x.lock", tmp_path / "order"
    holder = ProcessLock(path)
    holder.open()
    await holder.acquire()
    children = [queue_behind(path, order, kind, f"w{i}") for i in range(4)]
    holder.release()
    # Coming straight back, the holder queues behind everyone who was waiting.
    await holder.acquire()
    with order.open("a") as handle:
        handle.write("holder\n")
    holder.release()
    for child in children:
        await finished(child)
    assert order.read_text().split() == ["w0", "w1", "w2", "w3", "holder"]
    holder.close()


async def test_a_waiter_killed_in_the_queue_holds_nobody_up(tmp_path: Path, kind: str) -> None:
    path, order = tmp_path / "y.lock", tmp_path / "order"
    holder = ProcessLock(path)
    holder.open()
    await holder.acquire()
    first, doomed, last = (queue_behind(path, order, kind, f"w{i}") for i in range(3))
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate()
    holder.release()
    for child in (first, last):
        await finished(child)
    # The one behind the dead waiter went on to the lock itself, so it may come first.
    assert sorted(order.read_text().split()) == ["w0", "w2"]
    holder.close()


async def test_nobody_goes_ahead_of_a_waiter_that_was_woken_but_not_yet_run(
    tmp_path: Path, kind: str
) -> None:
    path, order = tmp_path / "z.lock", tmp_path / "order"
    holder = ProcessLock(path)
    holder.open()
    await holder.acquire()
    waiter = queue_behind(path, order, kind, "w0")
    os.kill(waiter.pid, signal.SIGSTOP)  # it cannot run when its turn comes
    try:
        holder.release()
        other = ProcessLock(path)
        other.open()
        assert not other.try_acquire()  # the lock is free, but w0 is next
    finally:
        os.kill(waiter.pid, signal.SIGCONT)
    await finished(waiter)
    assert other.try_acquire()
    other.release()
    other.close()
    holder.close()


@pytest.mark.skipif(not lock_queue.USE_OFD, reason="one process's POSIX locks never conflict")
def test_tickets_wrap_around_the_slots(tmp_path: Path) -> None:
    path = tmp_path / "w.tickets"
    path.write_bytes((SLOTS - 1).to_bytes(8, "little"))  # as if SLOTS - 1 had been taken
    first, second, onlooker = TicketQueue(path), TicketQueue(path), TicketQueue(path)
    for queue in (first, second, onlooker):
        queue.open()
    assert first.take(blocking=False)
    assert second.take(blocking=False)
    assert (first.ticket, second.ticket) == (SLOTS - 1, SLOTS)  # slots 4095 and 0
    assert first.wait_turn(blocking=False)
    assert not second.wait_turn(blocking=False)  # slot 4095 is the first one's
    assert not onlooker.empty()  # the last ticket's holder is still there
    first.leave()
    assert second.wait_turn(blocking=False)
    assert not onlooker.empty()
    second.leave()
    assert onlooker.empty()
    for queue in (first, second, onlooker):
        queue.close()


def test_a_new_queue_file_starts_at_ticket_zero(tmp_path: Path) -> None:
    queue = TicketQueue(tmp_path / "v.tickets")
    queue.open()
    assert queue.take(blocking=False)
    assert queue.ticket == 0
    assert queue.wait_turn(blocking=False)
    queue.leave()
    queue.close()
