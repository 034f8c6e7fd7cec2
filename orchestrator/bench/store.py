"""``orchestrator bench state``: read-modify-write throughput and lock waits.

Writers (asyncio tasks in one process, or OS processes) run transactions on a
realistic story state (a dozen characters, about 10 KB): each reads a
character and a shared counter, changes the character, and increments both.
At the end the final state is checked: every committed transaction must show
in the counters, so ``lost_updates`` is measured, not assumed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from hdrh.histogram import HdrHistogram

from state import StateManager, drop_store, open_state, summarize

Mode = Literal["tasks", "processes"]
CHARACTER_NAMES = (
    "Mara", "Ilya", "Sefa", "Tomas", "Noor", "Abel",
    "Wren", "Odile", "Kasimir", "Lio", "Petra", "Yusuf",
)  # fmt: skip
EMOTIONS = ("calm", "afraid", "hopeful", "angry", "grieving", "resolute")
PLACES = ("the harbor", "the lighthouse", "the archive", "the salt flats", "the chapel")
COUNTER_KEY = "bench/total"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class BenchConfig:
    backend: str
    writers: int
    mode: Mode
    ops: int
    durability: str
    folder: Path | None = None
    redis_url: str = DEFAULT_REDIS  # for backend "redis": a namespace of its own, deleted after


@dataclass
class BenchResult:
    backend: str
    mode: str
    writers: int
    ops_per_writer: int
    durability: str
    committed: int
    elapsed_s: float
    tx_per_s: float
    lost_updates: int
    lock_wait: dict[str, Any]
    hold: dict[str, Any]
    state_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def character_doc(name: str, rng: random.Random) -> dict[str, Any]:
    """About 800 bytes of character, as the agents keep them."""
    others = [n for n in CHARACTER_NAMES if n != name]
    return {
        "name": name,
        "role": "supporting",
        "description": (
            f"{name} grew up on the salt coast, keeps accounts for the harbor master, "
            "and trusts ledgers more than people. Quick to notice a lie, slow to forgive one; "
            "carries the weight of a brother lost at sea and a debt nobody else remembers."
        ),
        "alive": True,
        "emotion": rng.choice(EMOTIONS),
        "location": rng.choice(PLACES),
        "relationships": {
            o: rng.choice(("ally", "rival", "sibling", "stranger")) for o in others[:6]
        },
        "inventory": ["a brass key", "a folded letter", "salt bread"],
        "knowledge": [f"{name} knows the tide tables", f"{name} saw the ship burn"],
        "traits": {"updates": 0, "voice": "dry, careful, " * 8, "fear": "deep water"},
    }


def store_url(config: BenchConfig, folder: Path) -> str:
    if config.backend == "redis":
        joiner = "&" if "?" in config.redis_url else "?"
        namespace = f"bench-{uuid.uuid4().hex[:12]}"
        return f"{config.redis_url}{joiner}namespace={namespace}&durability={config.durability}"
    suffix = "json" if config.backend == "json" else "db"
    return f"{config.backend}://{folder / f'state.{suffix}'}?durability={config.durability}"


async def seed(manager: StateManager) -> None:
    rng = random.Random(7)
    async with manager.transaction("seed") as tx:
        for name in CHARACTER_NAMES:
            await tx.put(f"characters/{name}", character_doc(name, rng))
        await tx.put(COUNTER_KEY, 0)


def change(doc: dict[str, Any], rng: random.Random) -> None:
    """What one transaction does to a character (the reference loops do the same)."""
    doc["traits"]["updates"] += 1
    doc["emotion"] = rng.choice(EMOTIONS)
    doc["location"] = rng.choice(PLACES)


async def one_update(manager: StateManager, rng: random.Random) -> None:
    name = rng.choice(CHARACTER_NAMES)
    async with manager.transaction() as tx:
        doc = await tx.get(f"characters/{name}")
        change(doc, rng)
        await tx.put(f"characters/{name}", doc)
        await tx.put(COUNTER_KEY, await tx.get(COUNTER_KEY) + 1)


async def count_lost(manager: StateManager, expected: int) -> tuple[int, int]:
    """Expected commits minus what the final state shows (worst of two counters),
    and the size of the story state in bytes of JSON."""
    async with manager.transaction("verify") as tx:
        chars = await tx.scan("characters/")
        total = await tx.get(COUNTER_KEY)
    per_character = sum(doc["traits"]["updates"] for doc in chars.values())
    size = len(json.dumps(chars, separators=(",", ":")))
    return max(expected - per_character, expected - int(total)), size


async def _writer_loop(manager: StateManager, ops: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    for _ in range(ops):
        await one_update(manager, rng)


async def run_tasks(config: BenchConfig, url: str) -> BenchResult:
    async with open_state(url) as manager:
        await seed(manager)
        manager.metrics.reset()
        started = time.monotonic()
        await asyncio.gather(*(_writer_loop(manager, config.ops, i) for i in range(config.writers)))
        elapsed = time.monotonic() - started
        stats = manager.metrics.ops["transaction"]
        committed = stats.outcomes["commit"]
        lost, size = await count_lost(manager, config.writers * config.ops)
        return make_result(config, committed, elapsed, lost, stats.wait, stats.hold, size)


def _child(url: str, ops: int, seed_value: int, barrier: Any, out: Any) -> None:
    out.put(asyncio.run(_child_main(url, ops, seed_value, barrier)))


async def _child_main(url: str, ops: int, seed_value: int, barrier: Any) -> dict[str, Any]:
    async with open_state(url) as manager:
        await asyncio.to_thread(barrier.wait)
        manager.metrics.reset()
        started = time.monotonic()
        await _writer_loop(manager, ops, seed_value)
        ended = time.monotonic()
        stats = manager.metrics.ops["transaction"]
        return {
            "started": started,
            "ended": ended,
            "committed": stats.outcomes["commit"],
            "wait": base64.b64encode(stats.wait.encode()).decode(),
            "hold": base64.b64encode(stats.hold.encode()).decode(),
        }


async def run_processes(config: BenchConfig, url: str) -> BenchResult:
    async with open_state(url) as manager:
        await seed(manager)
    committed, elapsed, wait, hold = await run_children(_child, (url, config.ops), config.writers)
    async with open_state(url) as manager:
        lost, size = await count_lost(manager, config.writers * config.ops)
    return make_result(config, committed, elapsed, lost, wait, hold, size)


async def run_children(
    target: Callable[..., None], head: tuple[Any, ...], writers: int
) -> tuple[int, float, HdrHistogram, HdrHistogram]:
    """``writers`` spawned processes, each ``target(*head, i, barrier, out)``, released
    together by the barrier: what they committed, the span from the first start to the
    last end, and their lock-wait and hold histograms merged."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*head, i, barrier, out), daemon=True)
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    reports = [await asyncio.to_thread(out.get, True, 600) for _ in procs]
    for proc in procs:
        await asyncio.to_thread(proc.join)
    wait, hold = new_histogram(), new_histogram()
    for report in reports:
        wait.add(HdrHistogram.decode(base64.b64decode(report["wait"])))
        hold.add(HdrHistogram.decode(base64.b64decode(report["hold"])))
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return sum(r["committed"] for r in reports), elapsed, wait, hold


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, 3_600 * 1_000_000, 3)


def make_result(
    config: BenchConfig,
    committed: int,
    elapsed: float,
    lost: int,
    wait: HdrHistogram,
    hold: HdrHistogram,
    state_bytes: int,
) -> BenchResult:
    return BenchResult(
        backend=config.backend,
        mode=config.mode,
        writers=config.writers,
        ops_per_writer=config.ops,
        durability=config.durability,
        committed=committed,
        elapsed_s=round(elapsed, 3),
        tx_per_s=round(committed / elapsed, 1) if elapsed > 0 else 0.0,
        lost_updates=lost,
        lock_wait=summarize(wait),
        hold=summarize(hold),
        state_bytes=state_bytes,
    )


async def run_bench(config: BenchConfig) -> BenchResult:
    """Run one benchmark in a fresh store (in ``config.folder`` or a temp folder)."""
    with tempfile.TemporaryDirectory(prefix="bench-state-", dir=config.folder) as tmp:
        url = store_url(config, Path(tmp))
        try:
            if config.mode == "tasks":
                return await run_tasks(config, url)
            return await run_processes(config, url)
        finally:
            if config.backend == "redis":
                await drop_store(url)


def format_result(result: BenchResult) -> str:
    """The benchmark's figures as lines for a terminal."""
    wait, hold = result.lock_wait, result.hold
    return "\n".join(
        [
            f"backend {result.backend} ({result.durability}), {result.writers} writers as "
            f"{result.mode}, {result.ops_per_writer} transactions each",
            f"  committed      {result.committed} in {result.elapsed_s:.2f} s = "
            f"{result.tx_per_s:,.0f} transactions/s",
            f"  lock wait ms   p50 {wait.get('p50_ms')}  p95 {wait.get('p95_ms')}  "
            f"p99 {wait.get('p99_ms')}  p99.9 {wait.get('p99.9_ms')}  max {wait.get('max_ms')}",
            f"  hold ms        p50 {hold.get('p50_ms')}  p99 {hold.get('p99_ms')}  "
            f"max {hold.get('max_ms')}",
            f"  lost updates   {result.lost_updates}",
            f"  state size     {result.state_bytes:,} bytes",
        ]
    )
