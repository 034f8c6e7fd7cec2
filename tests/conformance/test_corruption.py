"""A damaged store is refused loudly and left as it was; bad URLs and paths are explained."""

from __future__ import annotations

import gc
import os
import random
import sqlite3
from pathlib import Path

import pytest

import state
from state import CorruptStateError, SchemaVersionError, StateOpenError, StateURLError
from tests.conftest import BackendSpec
from tests.support import INITIAL, delta, move, store_path


async def make_store(url: str) -> Path:
    async with state.open_state(url) as manager:
        await manager.initialize(INITIAL)
        for chapter in range(1, 4):
            await manager.apply(delta(chapter, move("Mara", f"p{chapter - 1}", f"p{chapter}")))
    return store_path(url)


def contents(path: Path) -> bytes:
    return path.read_bytes()


async def assert_refused(url: str, path: Path) -> CorruptStateError:
    """Opening ``url`` raises CorruptStateError naming ``path`` and leaves it unchanged."""
    damaged = contents(path)
    with pytest.raises(CorruptStateError) as caught:
        async with state.open_state(url):
            pass
    assert str(path) in str(caught.value)
    assert contents(path) == damaged
    return caught.value


def json_url(folder: Path) -> str:
    return f"json://{folder / 'state.json'}"


def sqlite_url(folder: Path) -> str:
    return f"sqlite://{folder / 'state.db'}"


# -- both backends ------------------------------------------------------------------


@pytest.mark.needs("files")
async def test_a_truncated_store_is_refused_and_left_untouched(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    path = await make_store(store_url)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    await assert_refused(store_url, path)


@pytest.mark.needs("files")
async def test_a_folder_that_does_not_exist_is_refused(
    backend: BackendSpec, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StateOpenError) as caught:
        async with state.open_state(backend.url(missing)):
            pass
    assert str(missing) in str(caught.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.needs("files")
async def test_a_refused_open_leaves_no_file_descriptor_open(
    backend: BackendSpec, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / backend.filename
    path.write_bytes(random.Random(1).randbytes(4096))
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(CorruptStateError):
            async with state.open_state(backend.url(tmp_path)):
                pass
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


# -- state.json ----------------------------------------------------------------------


async def test_state_json_cut_anywhere_is_refused(tmp_path: Path) -> None:
    path = await make_store(json_url(tmp_path))
    data = path.read_bytes()
    for cut in (0, 1, 20, 60, len(data) // 3, len(data) - 40, len(data) - 3, len(data) - 2):
        path.write_bytes(data[:cut])
        await assert_refused(json_url(tmp_path), path)


async def test_a_byte_flipped_inside_state_json_is_refused(tmp_path: Path) -> None:
    path = await make_store(json_url(tmp_path))
    data = bytearray(path.read_bytes())
    at = data.index(b'"p2"') + 2  # inside a document: "p2" becomes "p3"
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    error = await assert_refused(json_url(tmp_path), path)
    assert error.location == str(path)


def schema_digit(data: bytes | bytearray) -> int:
    return data.index(b'"schema":') + len(b'"schema":')


async def test_any_single_flipped_byte_in_state_json_is_refused(tmp_path: Path) -> None:
    path = await make_store(json_url(tmp_path))
    data = path.read_bytes()
    # Every byte of the header, then a spread of positions through the body.
    positions = sorted({*range(100), *range(100, len(data) - 1, 7), len(data) - 2})
    positions.remove(schema_digit(data))  # see the test below
    for at in positions:
        for mask in (0x01, 0x20):
            damaged = bytearray(data)
            damaged[at] ^= mask
            if damaged[at] == ord("\n") and at == len(data) - 2:
                continue
            path.write_bytes(bytes(damaged))
            with pytest.raises(CorruptStateError):
                async with state.open_state(json_url(tmp_path)):
                    pass
            assert path.read_bytes() == bytes(damaged), at
    path.write_bytes(data)
    async with state.open_state(json_url(tmp_path)) as manager:
        assert (await manager.snapshot()).characters["Mara"].location == "p3"


async def test_a_flipped_schema_version_in_state_json_is_refused(tmp_path: Path) -> None:
    path = await make_store(json_url(tmp_path))
    data = bytearray(path.read_bytes())
    assert data[schema_digit(data)] == ord("1")
    data[schema_digit(data)] = ord("0")
    path.write_bytes(bytes(data))
    with pytest.raises((CorruptStateError, SchemaVersionError)):
        async with state.open_state(json_url(tmp_path)):
            pass


async def test_state_json_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = await make_store(json_url(tmp_path))
    data = path.read_bytes()
    assert data.count(b'"schema":1,') == 1
    path.write_bytes(data.replace(b'"schema":1,', b'"schema":2,'))
    with pytest.raises(SchemaVersionError, match="version 2"):
        async with state.open_state(json_url(tmp_path)):
            pass


# -- state.db --------------------------------------------------------------------------


async def test_random_bytes_in_state_db_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(random.Random(7).randbytes(8192))
    await assert_refused(sqlite_url(tmp_path), path)


async def test_a_zero_filled_state_db_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(bytes(4096))
    await assert_refused(sqlite_url(tmp_path), path)


async def test_an_overwritten_real_state_db_is_refused(tmp_path: Path) -> None:
    path = await make_store(sqlite_url(tmp_path))
    size = path.stat().st_size
    path.write_bytes(random.Random(3).randbytes(size))
    await assert_refused(sqlite_url(tmp_path), path)


async def test_an_sqlite_header_followed_by_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"SQLite format 3\x00" + random.Random(5).randbytes(4080))
    await assert_refused(sqlite_url(tmp_path), path)


async def test_state_db_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = await make_store(sqlite_url(tmp_path))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_info SET version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError, match="99"):
        async with state.open_state(sqlite_url(tmp_path)):
            pass


async def test_an_empty_state_db_file_becomes_a_new_store(tmp_path: Path) -> None:
    (tmp_path / "state.db").touch()
    async with state.open_state(sqlite_url(tmp_path)) as manager:
        assert not await manager.is_initialized()
        assert await manager.initialize(INITIAL)


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("sqlit:///tmp/x/state.db", "sqlite"),
        ("sqllite:///tmp/x/state.db", "sqlite"),
        ("jsn:///tmp/x/state.json", "json"),
        ("JSONN:///tmp/x/state.json", "json"),
    ],
)
async def test_a_mistyped_scheme_gets_a_did_you_mean(url: str, suggestion: str) -> None:
    with pytest.raises(StateURLError, match=f"did you mean '{suggestion}'"):
        async with state.open_state(url):
            pass


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp:///tmp/x/state.db", "known: json://, sqlite://"),
        ("/tmp/x/state.db", "expected <backend>://<path>"),
        ("sqlite://", "names no file"),
        ("sqlite:///tmp/x/state.db?durabilty=full", "did you mean 'durability'"),
        ("sqlite:///tmp/x/state.db?durability=sometimes", "durability must be one of"),
        ("json:///tmp/x/state.json?lock_timeout=soon", "lock_timeout must be a number"),
    ],
)
async def test_a_bad_url_is_explained(url: str, message: str) -> None:
    with pytest.raises(StateURLError, match=message) as caught:
        async with state.open_state(url):
            pass
    assert url in str(caught.value)
    assert isinstance(caught.value, ValueError)
