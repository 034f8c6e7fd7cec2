"""One contract, every backend: the fixtures the conformance suite is parametrized by.

Add a backend by adding one entry to ``BACKENDS``; every test that takes
``store_url`` (or ``manager``, ``story``, ``make_store_url``) then runs on it.
A test that needs what only some backends have is marked
``@pytest.mark.needs("files")`` and skipped on the others.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

import state
from state import StateManager
from tests.redis_support import SHARED_REDIS, drop_namespaces, namespace_for
from tests.support import INITIAL, StoreURLFactory

# files: the store is a file a test can read, damage, copy, or name by a relative path.
CAPABILITIES = ("files",)


@dataclass(frozen=True)
class BackendSpec:
    """How to reach a fresh store of one backend in a folder (for Redis: named after it)."""

    scheme: str
    filename: str
    capabilities: frozenset[str] = frozenset({"files"})

    def url(self, folder: Path, **options: str) -> str:
        if self.scheme == "redis":
            query = urlencode({"namespace": namespace_for(folder), **options})
            return f"{SHARED_REDIS}?{query}"
        query = f"?{urlencode(options)}" if options else ""
        return f"{self.scheme}://{folder / self.filename}{query}"


BACKENDS: list[BackendSpec] = [
    BackendSpec("json", "state.json"),
    BackendSpec("sqlite", "state.db"),
    BackendSpec("redis", "", capabilities=frozenset()),
]


@pytest.fixture(params=BACKENDS, ids=[b.scheme for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> BackendSpec:
    spec: BackendSpec = request.param
    needs = request.node.get_closest_marker("needs")
    missing = set(needs.args if needs else ()) - spec.capabilities
    if missing:
        pytest.skip(f"{spec.scheme} stores have no {', '.join(sorted(missing))}")
    return spec


@pytest.fixture
def make_store_url(backend: BackendSpec, tmp_path: Path) -> Iterator[StoreURLFactory]:
    """``make_store_url(durability="off")``: the URL of a new, empty store in tmp_path.

    Redis stores are namespaces of the shared server, deleted after the test.
    """
    counter = itertools.count()
    folders: list[Path] = []

    def make(**options: str) -> str:
        folder = tmp_path / f"store-{next(counter)}"
        folder.mkdir()
        folders.append(folder)
        return backend.url(folder, **options)

    yield make
    if backend.scheme == "redis":
        drop_namespaces(namespace_for(folder) for folder in folders)


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
