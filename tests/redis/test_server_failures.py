"""A Redis that is not there, refuses us, or goes away mid-run: clear errors, nothing lost.

Each test runs its own redis-server on a free port (the shared one is never stopped).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

import state
from state import StateManager, StateOpenError, StateWriteError
from state.backends.redis import RedisBackend
from state.backends.redis_url import PASSWORD_ENV
from state.errors import StoreLostError, StoreUnreachableError
from tests.redis.conftest import (
    AOF_ALWAYS,
    AOF_EVERYSEC,
    NO_PERSISTENCE,
    RDB_ONLY,
    RedisServer,
    free_port,
)
from tests.support import INITIAL, delta, fold_deltas, move, without_version

Server = Callable[..., RedisServer]


def moves(chapters: range) -> list[state.StateDelta]:
    return [delta(c, move("Mara", f"p{c - 1}", f"p{c}")) for c in chapters]


async def test_nothing_listening_is_a_clear_open_error() -> None:
    port = free_port()
    with pytest.raises(StateOpenError) as caught:
        async with state.open_state(f"redis://:hunter2@127.0.0.1:{port}/0?namespace=x"):
            pass
    message = str(caught.value)
    assert f"redis://127.0.0.1:{port}/0?namespace=x" in message
    assert "not reachable" in message
    assert "hunter2" not in message


async def test_a_wrong_password_is_refused_without_retrying(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE, password="right-one")
    url = f"redis://:wrong-one@127.0.0.1:{server.port}/0?namespace=x"
    with pytest.raises(StateOpenError, match="refused the credentials") as caught:
        async with state.open_state(url):
            pass
    assert "wrong-one" not in str(caught.value)
    assert "right-one" not in str(caught.value)


async def test_a_database_the_server_lacks_is_named(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    with pytest.raises(StateOpenError, match="the server has no database 99"):
        async with state.open_state(f"redis://127.0.0.1:{server.port}/99?namespace=x"):
            pass


async def test_the_password_may_come_from_the_environment(
    redis_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = redis_server(*NO_PERSISTENCE, password="right-one")
    monkeypatch.setenv(PASSWORD_ENV, "right-one")
    async with state.open_state(f"redis://127.0.0.1:{server.port}/0?namespace=x") as manager:
        assert await manager.initialize(INITIAL)


def test_the_cli_reports_a_wrong_password_in_one_line(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE, password="right-one")
    url = f"redis://:wrong-one@127.0.0.1:{server.port}/0?namespace=x"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "state", "snapshot", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "refused the credentials" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "wrong-one" not in proc.stderr + proc.stdout


async def test_a_server_stopped_mid_run_is_a_clear_error_after_bounded_retries(
    redis_server: Server,
) -> None:
    server = redis_server(*NO_PERSISTENCE, password="pw-123")
    async with state.open_state(server.url(reconnect="0.5")) as manager:
        await manager.initialize(INITIAL)
        server.stop()
        with pytest.raises(StoreUnreachableError) as caught:
            await manager.apply(moves(range(1, 2))[0])
    message = str(caught.value)
    assert f"127.0.0.1:{server.port}" in message
    assert "tries over" in message
    assert "pw-123" not in message


async def test_once_the_server_was_given_up_on_the_next_operations_fail_fast(
    redis_server: Server,
) -> None:
    """A run that lost its server stops after one retry budget, not one per operation."""
    server = redis_server(*AOF_ALWAYS)
    async with state.open_state(server.url(reconnect="0.5")) as manager:
        await manager.initialize(INITIAL)
        server.stop(signal.SIGKILL)
        with pytest.raises(StoreUnreachableError) as first:
            await manager.apply(moves(range(1, 2))[0])
        with pytest.raises(StoreUnreachableError) as second:
            await manager.history()
        assert first.value.tries > 2
        assert second.value.tries == 2  # one more try, on a new connection, and no more
        await asyncio.to_thread(server.start)
        assert (await manager.apply(moves(range(1, 2))[0])).applied
        server.stop(signal.SIGKILL)
        with pytest.raises(StoreUnreachableError) as after_recovery:
            await manager.history()
        assert after_recovery.value.tries > 2  # a new outage gets the whole budget again


async def restart_during_a_write(server: RedisServer, manager: StateManager, sig: signal.Signals):
    """Stop the server, start a write, bring the server back; the write's result."""
    server.stop(sig)
    pending = asyncio.create_task(manager.apply(moves(range(6, 7))[0]))
    await asyncio.sleep(0.3)  # the write is now retrying against a server that is down
    assert not pending.done()
    await asyncio.to_thread(server.start)
    return await pending


@pytest.mark.parametrize(
    ("settings", "sig"),
    [
        (AOF_ALWAYS, signal.SIGKILL),
        (AOF_EVERYSEC, signal.SIGTERM),
        (RDB_ONLY, signal.SIGTERM),
    ],
    ids=["aof-always-killed", "aof-everysec-shut-down", "rdb-shut-down"],
)
async def test_committed_state_survives_a_restart_with_persistence(
    redis_server: Server, settings: tuple[str, ...], sig: signal.Signals
) -> None:
    server = redis_server(*settings)
    url = server.url(reconnect="30")
    deltas = moves(range(1, 6))
    async with state.open_state(url) as manager:
        await manager.initialize(INITIAL)
        for each in deltas:
            await manager.apply(each)
        result = await restart_during_a_write(server, manager, sig)
        assert result.applied
        assert result.seq == 6
    async with state.open_state(url) as manager:
        expected = fold_deltas(INITIAL, moves(range(1, 7)))
        assert without_version(await manager.snapshot()) == without_version(expected)
        assert [e.chapter for e in await manager.history()] == [1, 2, 3, 4, 5, 6]
        assert (await manager.apply(deltas[0])).duplicate


async def test_without_persistence_a_restart_loses_the_store_and_says_so(
    redis_server: Server,
) -> None:
    server = redis_server(*NO_PERSISTENCE)
    async with state.open_state(server.url(reconnect="30")) as manager:
        await manager.initialize(INITIAL)
        await manager.apply(moves(range(1, 2))[0])
        server.stop(signal.SIGTERM)
        await asyncio.to_thread(server.start)
        with pytest.raises(StoreLostError, match="is gone"):
            await manager.apply(moves(range(2, 3))[0])
        with pytest.raises(StoreLostError):
            await manager.put_meta("note", {"after": "restart"})


async def test_a_writer_whose_lease_ran_out_cannot_commit(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url(lease="0.2")
    async with state.open_state(url) as slow, state.open_state(url) as fast:

        async def stalled() -> None:
            async with slow.transaction() as tx:
                await tx.put("k", "slow")
                await asyncio.sleep(0.6)  # three leases: another writer may take over

        task = asyncio.create_task(stalled())
        await asyncio.sleep(0.05)
        async with fast.transaction() as tx:
            await tx.put("k", "fast")
        with pytest.raises(StateWriteError, match="lease"):
            await task
        async with slow.transaction() as tx:
            assert await tx.get("k") == "fast"


HOLDER = """
import asyncio, sys
import state

async def main(url):
    async with state.open_state(url) as manager:
        async with manager.transaction() as tx:
            await tx.put("k", "never committed")
            print("holding", flush=True)
            await asyncio.sleep(600)

asyncio.run(main(sys.argv[1]))
"""


async def test_a_killed_holder_blocks_others_only_until_its_lease_runs_out(
    redis_server: Server,
) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url(lease="0.5")
    async with state.open_state(url) as manager:
        await manager.initialize(INITIAL)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"holding\n"
    finally:
        holder.kill()
        await holder.wait()
    async with state.open_state(url) as manager:
        assert (await manager.apply(moves(range(1, 2))[0])).applied
        async with manager.transaction() as tx:
            assert await tx.get("k") is None


async def test_a_store_deleted_and_made_again_is_not_read_from_an_old_cache(
    redis_server: Server,
) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url()
    async with state.open_state(url) as stale, state.open_state(url) as other:
        for n in range(3):
            async with stale.transaction() as tx:
                await tx.put("k", f"old-{n}")
        assert isinstance(other.backend, RedisBackend)
        await other.backend.drop()
        async with state.open_state(url) as fresh:
            for n in range(5):  # the new store passes the old one's commit count
                async with fresh.transaction() as tx:
                    await tx.put("j", n)
        async with stale.transaction() as tx:
            assert await tx.get("k") is None
            assert await tx.get("j") == 4
