"""One contract, every backend: the fixtures the conformance suite is parametrized by.

Add a backend by adding one entry to ``BACKENDS``; every test that takes
``store_url`` (or ``manager``, ``story``, ``make_store_url``) then runs on it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

import state
from state import StateManager
from tests.support import INITIAL, StoreURLFactory


@dataclass(frozen=True)
class BackendSpec:
    """How to reach a fresh store of one backend in a folder."""

    scheme: str
    filename: str

    def url(self, folder: Path, **options: str) -> str:
        query = f"?{urlencode(options)}" if options else ""
        return f"{self.scheme}://{folder / self.filename}{query}"


BACKENDS: list[BackendSpec] = [
    BackendSpec("json", "state.json"),
    BackendSpec("sqlite", "state.db"),
]


@pytest.fixture(params=BACKENDS, ids=[b.scheme for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> BackendSpec:
    spec: BackendSpec = request.param
    return spec


@pytest.fixture
def make_store_url(backend: BackendSpec, tmp_path: Path) -> StoreURLFactory:
    """``make_store_url(durability="off")``: the URL of a new, empty store in tmp_path."""
    counter = itertools.count()

    def make(**options: str) -> str:
        folder = tmp_path / f"store-{next(counter)}"
        folder.mkdir()
        return backend.url(folder, **options)

    return make


@pytest.fixture
def store_url(make_store_url: StoreURLFactory) -> str:
    return make_store_url()


@pytest.fixture
async def manager(store_url: str) -> AsyncIterator[StateManager]:
    async with state.open_state(store_url) as opened:
        yield opened


@pytest.fixture
async def story(manager: StateManager) -> StateManager:
    """A manager whose store holds ``tests.support.INITIAL`` as the state before chapter 1."""
    assert await manager.initialize(INITIAL)
    return manager
