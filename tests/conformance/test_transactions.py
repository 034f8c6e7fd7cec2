"""Raw transactions: get/put/delete/scan, all or nothing, values by copy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from state import StateManager


class Boom(Exception):
    pass


async def put_all(manager: StateManager, docs: dict[str, Any]) -> None:
    async with manager.transaction() as tx:
        for key, value in docs.items():
            await tx.put(key, value)


async def read(manager: StateManager, key: str, default: Any = None) -> Any:
    async with manager.transaction() as tx:
        return await tx.get(key, default)


async def scan(manager: StateManager, prefix: str) -> dict[str, Any]:
    async with manager.transaction() as tx:
        found: dict[str, Any] = await tx.scan(prefix)
        return found


async def test_put_then_get_returns_the_value(manager: StateManager) -> None:
    doc = {"name": "Mara", "tags": ["heir", "sailor"], "age": 31, "alive": True, "x": None}
    await put_all(manager, {"characters/Mara": doc, "counter": 7, "title": "Tides"})
    assert await read(manager, "characters/Mara") == doc
    assert await read(manager, "counter") == 7
    assert await read(manager, "title") == "Tides"


async def test_get_of_a_missing_key_returns_the_default(manager: StateManager) -> None:
    assert await read(manager, "nothing/here") is None
    assert await read(manager, "nothing/here", {"empty": True}) == {"empty": True}


async def test_put_overwrites(manager: StateManager) -> None:
    await put_all(manager, {"k": 1})
    await put_all(manager, {"k": {"v": 2}})
    assert await read(manager, "k") == {"v": 2}


async def test_delete_removes_the_key(manager: StateManager) -> None:
    await put_all(manager, {"k/a": 1, "k/b": 2})
    async with manager.transaction() as tx:
        await tx.delete("k/a")
        await tx.delete("k/never-written")
    assert await read(manager, "k/a", "gone") == "gone"
    assert await scan(manager, "k/") == {"k/b": 2}


async def test_scan_returns_exactly_the_prefix_in_key_order(manager: StateManager) -> None:
    keys = ["k/b", "k/a", "k/10", "k/9", "k/Z", "k/é", "k/a/deep", "k_x", "k", "j/z", "l/a"]
    await put_all(manager, {key: i for i, key in enumerate(keys)})
    found = await scan(manager, "k/")
    assert list(found) == ["k/10", "k/9", "k/Z", "k/a", "k/a/deep", "k/b", "k/é"]
    assert found["k/b"] == 0
    assert list(await scan(manager, "k/a")) == ["k/a", "k/a/deep"]
    assert await scan(manager, "nope/") == {}
    assert list(await scan(manager, "")) == sorted(keys)


async def test_a_transaction_sees_its_own_writes(manager: StateManager) -> None:
    await put_all(manager, {"k/a": 1, "k/b": 2})
    async with manager.transaction() as tx:
        await tx.put("k/a", 10)
        await tx.put("k/c", 30)
        await tx.delete("k/b")
        assert await tx.get("k/a") == 10
        assert await tx.get("k/b") is None
        assert await tx.scan("k/") == {"k/a": 10, "k/c": 30}


async def test_a_transaction_sees_what_committed_before_it(manager: StateManager) -> None:
    await put_all(manager, {"k": 1})
    async with manager.transaction() as tx:
        assert await tx.get("k") == 1
        await tx.put("k", 2)
    async with manager.transaction() as tx:
        assert await tx.get("k") == 2


async def test_an_exception_in_the_body_leaves_nothing(manager: StateManager) -> None:
    await put_all(manager, {"k/keep": "old", "k/doomed": "still here"})

    async def doomed() -> None:
        async with manager.transaction() as tx:
            await tx.put("k/keep", "new")
            await tx.put("k/added", 1)
            await tx.delete("k/doomed")
            await tx.append_event({"note": "never"}, chapter=1)
            raise Boom

    with pytest.raises(Boom):
        await doomed()
    assert await scan(manager, "k/") == {"k/doomed": "still here", "k/keep": "old"}
    async with manager.transaction() as tx:
        # The aborted event left no trace: the next one takes the first sequence number.
        assert await tx.append_event({"note": "first"}, chapter=1) == 1


async def test_a_failing_transaction_does_not_disturb_concurrent_ones(
    manager: StateManager,
) -> None:
    async def good(i: int) -> None:
        async with manager.transaction() as tx:
            await tx.put(f"k/{i}", i)

    async def bad() -> None:
        async with manager.transaction() as tx:
            await tx.put("k/bad", "x")
            raise Boom

    results = await asyncio.gather(good(1), bad(), good(2), bad(), good(3), return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "NoneType",
        "Boom",
        "NoneType",
        "Boom",
        "NoneType",
    ]
    assert await scan(manager, "k/") == {"k/1": 1, "k/2": 2, "k/3": 3}


async def test_values_are_copies(manager: StateManager) -> None:
    doc: dict[str, Any] = {"inventory": ["key"], "traits": {"fear": "water"}}
    async with manager.transaction() as tx:
        await tx.put("characters/Mara", doc)
        doc["inventory"].append("put-then-mutated")
        mine = await tx.get("characters/Mara")
        mine["inventory"].append("mutated-inside")
    assert doc["inventory"] == ["key", "put-then-mutated"]

    first = await read(manager, "characters/Mara")
    assert isinstance(first, dict)
    first["inventory"].append("mutated-after")
    first["traits"]["fear"] = "fire"
    listed = await scan(manager, "characters/")
    listed["characters/Mara"]["inventory"].clear()

    assert await read(manager, "characters/Mara") == {
        "inventory": ["key"],
        "traits": {"fear": "water"},
    }


async def test_put_refuses_a_value_json_cannot_encode(manager: StateManager) -> None:
    async def unencodable() -> None:
        async with manager.transaction() as tx:
            await tx.put("k/ok", 1)
            await tx.put("k/bad", {"when": object()})

    with pytest.raises(TypeError, match="k/bad"):
        await unencodable()
    assert await scan(manager, "k/") == {}


async def test_a_transaction_cannot_be_used_after_its_block(manager: StateManager) -> None:
    async with manager.transaction() as tx:
        await tx.put("k", 1)
    with pytest.raises(RuntimeError):
        await tx.get("k")
    with pytest.raises(RuntimeError):
        await tx.put("k", 2)
    assert await read(manager, "k") == 1


async def test_an_unstorable_string_fails_only_its_own_transaction(
    manager: StateManager,
) -> None:
    async def good(i: int) -> None:
        async with manager.transaction() as tx:
            await tx.put(f"k/{i}", i)

    async def bad() -> None:
        async with manager.transaction() as tx:
            await tx.put("k/bad", "half a pair: \ud800")

    results = await asyncio.gather(good(1), bad(), good(2), return_exceptions=True)
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], (TypeError, ValueError))
    await good(3)
    assert await scan(manager, "k/") == {"k/1": 1, "k/2": 2, "k/3": 3}


async def test_a_nested_transaction_is_refused_not_deadlocked(manager: StateManager) -> None:
    async with manager.transaction() as tx:
        await tx.put("outer", 1)
        with pytest.raises(RuntimeError, match="inside another"):
            async with manager.transaction():
                pass
    assert await read(manager, "outer") == 1
