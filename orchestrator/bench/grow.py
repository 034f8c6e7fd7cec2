"""``orchestrator bench state --grow``: lock wait as the story state grows.

For each backend, one store is enlarged step by step (twice the characters
and twice the history each step) while 20 writers run the benchmark's
read-modify-write transactions on it; every step prints the store's size,
transactions/s and the lock-wait percentiles, and marks the first step whose
P99 is over the default threshold (100 ms), where a run would be told to
migrate. This is what the thresholds are for: JSON rewrites the whole store
on every commit, so its lock wait grows with the story; SQLite's does not.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.bench.store import (
    CHARACTER_NAMES,
    BenchConfig,
    character_doc,
    run_processes,
    seed,
    store_url,
)
from state import StateManager, open_state, read_all, summarize

DEFAULT_P99_MS = 100.0  # state.thresholds.lock_wait_p99_ms by default
DEFAULT_MIN_OPS_S = 30.0  # state.thresholds.min_throughput_ops_s
DEFAULT_WAITING = 1.0  # state.thresholds.waiting_writers
EVENT_CHANGES = 6  # field changes per history event: about one chapter's delta


@dataclass(frozen=True)
class GrowConfig:
    backends: tuple[str, ...]
    writers: int = 20
    mode: str = "tasks"
    ops: int = 20  # transactions per writer per step
    steps: int = 8
    durability: str = "full"
    folder: Path | None = None


@dataclass
class GrowStep:
    backend: str
    characters: int
    events: int
    store_bytes: int
    tx_per_s: float
    lock_wait: dict[str, Any]
    hold: dict[str, Any]
    waiting_writers: float  # mean writers waiting on the store (lock wait + hold), Little's law
    over: list[str]  # the default thresholds this step is over

    @property
    def over_threshold(self) -> bool:
        return bool(self.over)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "over_threshold": self.over_threshold}


def sizes(step: int) -> tuple[int, int]:
    """Characters and history events at ``step``: both double every step."""
    return 12 * 2**step, 100 * 2**step


async def grow_to(manager: StateManager, characters: int, events: int) -> None:
    """Add characters and history events until the store holds ``characters`` and ``events``."""
    rng = random.Random(characters)
    have = len(await manager.backend.scan("characters/"))
    names = [f"Extra{n:05d}" for n in range(have - len(CHARACTER_NAMES), characters - 12)]
    for start in range(0, len(names), 5000):  # big batches: a JSON commit rewrites it all
        async with manager.transaction("grow") as tx:
            for name in names[start : start + 5000]:
                await tx.put(f"characters/{name}", character_doc(name, rng))
    have_events = len([e async for e in manager.backend.events()])
    for start in range(have_events, events, 5000):
        async with manager.transaction("grow") as tx:
            for n in range(start, min(events, start + 5000)):
                await tx.append_event(_event_body(n, rng), chapter=1 + n // 10)


def _event_body(n: int, rng: random.Random) -> dict[str, Any]:
    name = rng.choice(CHARACTER_NAMES)
    changes = [
        {"key": f"characters/{name}", "field": f"f{i}", "old": "the harbor", "new": "the archive"}
        for i in range(EVENT_CHANGES)
    ]
    return {"kind": "delta", "author": f"writer-{n % 20}", "attempt": 1, "changes": changes}


async def _store_bytes(manager: StateManager) -> int:
    docs, events = await read_all(manager.backend)
    return sum(len(k) + len(v) for k, v in docs.items()) + sum(len(e.body) for e in events)


@dataclass(frozen=True)
class Measured:
    """One step's figures."""

    tx_per_s: float
    wait: dict[str, Any]
    hold: dict[str, Any]
    waiting_writers: float


class _Busy:
    """Sums every transaction's latency (asking for the lock to a durable commit)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, _t: float, _wait: float, latency: float, outcome: str) -> None:
        if outcome != "read":
            self.seconds += latency


async def _measure_tasks(url: str, config: GrowConfig) -> Measured:
    from orchestrator.bench.store import one_update

    async with open_state(url) as manager:
        manager.metrics.reset()
        busy = _Busy()
        manager.metrics.listeners.append(busy)
        started = time.monotonic()

        async def writer(n: int) -> None:
            rng = random.Random(n)
            for _ in range(config.ops):
                await one_update(manager, rng)

        await asyncio.gather(*(writer(n) for n in range(config.writers)))
        elapsed = time.monotonic() - started
        stats = manager.metrics.ops["transaction"]
        return Measured(
            stats.outcomes["commit"] / elapsed,
            summarize(stats.wait),
            summarize(stats.hold),
            busy.seconds / elapsed,
        )


async def _measure(url: str, config: GrowConfig, backend: str) -> Measured:
    if config.mode == "tasks":
        return await _measure_tasks(url, config)
    bench = BenchConfig(backend, config.writers, "processes", config.ops, config.durability)
    result = await run_processes(bench, url)  # seeds again: counters from zero, lost counted
    # One writer per process: its hold ends when its own commit is durable.
    mean_s = (result.lock_wait.get("mean_ms", 0) + result.hold.get("mean_ms", 0)) / 1000
    return Measured(result.tx_per_s, result.lock_wait, result.hold, mean_s * result.tx_per_s)


def judge(measured: Measured) -> list[str]:
    """The default thresholds a step's figures are over."""
    over = []
    if float(measured.wait.get("p99_ms", 0)) > DEFAULT_P99_MS:
        over.append("lock_wait_p99")
    if measured.tx_per_s < DEFAULT_MIN_OPS_S and measured.waiting_writers >= DEFAULT_WAITING:
        over.append("throughput")
    return over


async def grow_backend(backend: str, config: GrowConfig, folder: Path) -> list[GrowStep]:
    """Every step of one backend's growth, measured."""
    bench = BenchConfig(backend, config.writers, "tasks", config.ops, config.durability)
    url = store_url(bench, folder)
    async with open_state(url) as manager:
        await seed(manager)
    steps = []
    for step in range(config.steps):
        characters, events = sizes(step)
        async with open_state(url) as manager:
            await grow_to(manager, characters, events)
            await seed(manager)  # the 12 characters the writers update, from zero again
            size = await _store_bytes(manager)
        m = await _measure(url, config, backend)
        steps.append(
            GrowStep(
                backend,
                characters,
                events,
                size,
                round(m.tx_per_s, 1),
                m.wait,
                m.hold,
                round(m.waiting_writers, 2),
                judge(m),
            )
        )
    return steps


async def run_grow(config: GrowConfig) -> list[GrowStep]:
    """Grow a store of each backend in a temp folder; every step of each."""
    results: list[GrowStep] = []
    for backend in config.backends:
        with tempfile.TemporaryDirectory(prefix="bench-grow-", dir=config.folder) as tmp:
            results += await grow_backend(backend, config, Path(tmp))
    return results


def format_grow(steps: list[GrowStep], config: GrowConfig) -> str:
    """One table per backend, the crossing marked, and where JSON crossed vs SQLite there."""
    lines = [
        f"{config.writers} writers as {config.mode}, {config.ops} transactions each per step, "
        f"durability {config.durability}. Over the default thresholds: * lock-wait P99 over "
        f"{DEFAULT_P99_MS:g} ms, ! under {DEFAULT_MIN_OPS_S:g} tx/s with writers waiting"
    ]
    header = "  characters   events   store MB     tx/s  waiting  wait P50 ms  P99 ms   hold P99 ms"
    for backend in config.backends:
        lines += [f"\n{backend}", header]
        for s in (s for s in steps if s.backend == backend):
            w = s.lock_wait
            mark = ("*" if "lock_wait_p99" in s.over else " ") + (
                "!" if "throughput" in s.over else " "
            )
            lines.append(
                f"  {s.characters:>10} {s.events:>8} {s.store_bytes / 1e6:>10.2f} "
                f"{s.tx_per_s:>8.0f}{mark[1]} {s.waiting_writers:>7} {w.get('p50_ms', 0):>12} "
                f"{w.get('p99_ms', 0):>7}{mark[0]} {s.hold.get('p99_ms', 0):>12}"
            )
    lines.append(crossing_note(steps))
    return "\n".join(lines)


def crossing_note(steps: list[GrowStep]) -> str:
    """Where JSON first crossed a default threshold, and SQLite's figures at that size."""
    crossed = next((s for s in steps if s.backend == "json" and s.over_threshold), None)
    if crossed is None:
        return "\njson stayed under the default thresholds at every size measured"
    same = next(
        (s for s in steps if s.backend == "sqlite" and s.characters == crossed.characters), None
    )
    note = (
        f"\njson crosses {' and '.join(crossed.over)} at {crossed.characters} characters, "
        f"{crossed.events} events ({crossed.store_bytes / 1e6:.2f} MB): {_figures(crossed)}"
    )
    if same is not None:
        note += f"\nsqlite at that size: {_figures(same)}"
    return note


def _figures(step: GrowStep) -> str:
    return (
        f"{step.tx_per_s:,.0f} tx/s, lock-wait P99 {step.lock_wait.get('p99_ms')} ms, "
        f"hold P99 {step.hold.get('p99_ms')} ms, {step.waiting_writers} writers waiting"
    )
