"""Closing and reopening a store keeps everything; the files on disk are the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import state
from state import ChapterRecord, StateManager
from state.atomic import stale_temp_files
from state.backend import DURABILITY_LEVELS
from tests.support import INITIAL, change, delta, feel, move, store_path, without_version


async def write_some(manager: StateManager) -> None:
    await manager.initialize(INITIAL)
    await manager.apply(delta(1, move("Mara", "harbour", "ship"), record=ChapterRecord(chapter=1)))
    await manager.apply(delta(2, change("foreshadowing/bell", "status", None, "planted")))
    await manager.apply(delta(2, feel("Teo", "wary", "glad"), attempt=2))
    async with manager.transaction() as tx:
        await tx.put("notes/outline", {"acts": 3})


async def everything(manager: StateManager) -> dict[str, Any]:
    async with manager.transaction() as tx:
        raw = await tx.scan("")
    return {
        "latest": await manager.snapshot(),
        "as_of_2": await manager.snapshot(as_of_chapter=2),
        "history": await manager.history(),
        "chapters": await manager.chapters(),
        "raw": raw,
    }


ODD_KEYS = {
    'notes/say "hi"': {"quote": '"'},
    "notes/back\\slash": {"path": "C:\\x"},
    'notes/colon":{"x":1}': [1, 2],
    "notes/Mara\u2019s bell \u2713": "\u00fcn\u00efcode",
    "notes/tab\tand\nnewline": "line one\nline two",
}


async def test_keys_with_quotes_escapes_and_unicode_survive_a_reopen(store_url: str) -> None:
    async with state.open_state(store_url) as manager, manager.transaction() as tx:
        for key, value in ODD_KEYS.items():
            await tx.put(key, value)
    async with state.open_state(store_url) as manager, manager.transaction() as tx:
        assert await tx.scan("notes/") == dict(sorted(ODD_KEYS.items()))
        for key, value in ODD_KEYS.items():
            assert await tx.get(key) == value


async def test_reopening_keeps_everything(store_url: str) -> None:
    async with state.open_state(store_url) as manager:
        await write_some(manager)
        before = await everything(manager)
    async with state.open_state(store_url) as manager:
        assert await everything(manager) == before
        assert await manager.is_initialized()
        assert not await manager.initialize(INITIAL)
        # Idempotency survives the reopen too.
        assert (await manager.apply(delta(1, move("Mara", "harbour", "ship")))).duplicate
        result = await manager.apply(delta(3, move("Mara", "ship", "reef")))
        assert result.seq == before["latest"].version + 1


@pytest.mark.needs("files")
async def test_the_store_file_survives_close(store_url: str) -> None:
    path = store_path(store_url)
    async with state.open_state(store_url) as manager:
        await write_some(manager)
    assert path.is_file()
    assert path.stat().st_size > 0
    assert stale_temp_files(path.parent) == []
    # A copy of the file alone is the whole store.
    copy = path.parent.parent / "copy" / path.name
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    copy_url = store_url.replace(str(path), str(copy))
    async with state.open_state(store_url) as original, state.open_state(copy_url) as copied:
        assert without_version(await copied.snapshot()) == without_version(
            await original.snapshot()
        )
        assert await copied.history() == await original.history()


@pytest.mark.needs("files")
async def test_a_relative_url_names_the_same_store(store_url: str) -> None:
    path = store_path(store_url)
    scheme = store_url.split("://", 1)[0]
    async with state.open_state(store_url) as manager:
        await write_some(manager)
        expected = await manager.snapshot()
    relative = f"{scheme}://{path.parent.name}/{path.name}"
    async with state.open_state(relative, base_dir=path.parent.parent) as manager:
        assert await manager.snapshot() == expected


@pytest.mark.needs("files")
async def test_a_relative_url_is_taken_from_the_working_directory(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store_path(store_url)
    scheme = store_url.split("://", 1)[0]
    async with state.open_state(store_url) as manager:
        await write_some(manager)
    monkeypatch.chdir(path.parent)
    async with state.open_state(f"{scheme}://{path.name}") as manager:
        assert await manager.is_initialized()
    assert Path(os.getcwd()) == path.parent


async def test_every_durability_opens_the_same_store(store_url: str) -> None:
    async with state.open_state(store_url) as manager:
        await write_some(manager)
        expected = await everything(manager)
    joiner = "&" if "?" in store_url else "?"  # a Redis URL already names its namespace
    for level in DURABILITY_LEVELS:
        async with state.open_state(f"{store_url}{joiner}durability={level}") as manager:
            found = await everything(manager)
            assert found["history"] == expected["history"]
            assert found["latest"] == expected["latest"]
            async with manager.transaction() as tx:
                await tx.put(f"notes/{level}", level)
    async with state.open_state(store_url) as manager, manager.transaction() as tx:
        assert await tx.scan("notes/") == {
            **{f"notes/{level}": level for level in DURABILITY_LEVELS},
            "notes/outline": {"acts": 3},
        }


async def test_two_open_managers_see_each_others_commits(store_url: str) -> None:
    async with state.open_state(store_url) as one, state.open_state(store_url) as two:
        await one.initialize(INITIAL)
        assert await two.is_initialized()
        await two.apply(delta(1, move("Mara", "harbour", "ship")))
        assert (await one.snapshot()).characters["Mara"].location == "ship"
        assert (await one.apply(delta(1, move("Mara", "harbour", "ship")))).duplicate
        for _ in range(3):
            for manager in (one, two):
                async with manager.transaction() as tx:
                    await tx.put("counter", await tx.get("counter", 0) + 1)
        async with one.transaction() as tx:
            assert await tx.get("counter") == 6
