"""``orchestrator bench state --reference``: the store against the plainest correct loop.

Each backend has a reference: the shortest code that does the benchmark's
transaction (read a character and the counter, change the character, write
both) correctly across writers, with the same guarantee per commit:

- sqlite: plain ``sqlite3``, WAL, ``BEGIN IMMEDIATE`` (its busy timeout waits
  for the lock), ``synchronous=FULL`` for ``full`` and ``group`` (every commit on
  disk before it returns, as the store's ``group`` promises), ``NORMAL`` for
  ``normal``, ``OFF`` for ``off``;
- json: one file, ``fcntl.flock`` on a lock file around read-modify-write, a
  temp file renamed over it; for ``full``/``group`` the temp file is fsynced
  before the rename and the folder after it, all under the lock;
- redis: ``redis-py``, WATCH/MULTI/EXEC, retried on a conflict; the server's
  own persistence settings decide durability, as for the store.

Lock wait is measured as for the store: from asking for the lock (flock,
``BEGIN IMMEDIATE``; on Redis, from the first WATCH to the start of the attempt
that commits) to holding it. Writers as tasks run the (blocking) transaction
one after another in one event loop, yielding between transactions: what the
plainest asyncio code does. These loops are a floor to beat, not a second store:
no history, no recovery, no metrics beyond the benchmark's.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import redis
from hdrh.histogram import HdrHistogram

from orchestrator.bench.store import (
    CHARACTER_NAMES,
    COUNTER_KEY,
    BenchConfig,
    BenchResult,
    change,
    character_doc,
    format_result,
    make_result,
    new_histogram,
    run_bench,
    run_children,
)

SQLITE_SYNCHRONOUS = {"full": "FULL", "group": "FULL", "normal": "NORMAL", "off": "OFF"}
DURABLE = ("full", "group")


def seed_state() -> dict[str, Any]:
    """The store's seed, as one dictionary."""
    rng = random.Random(7)
    state: dict[str, Any] = {f"characters/{n}": character_doc(n, rng) for n in CHARACTER_NAMES}
    state[COUNTER_KEY] = 0
    return state


class Loop(Protocol):
    """One backend's plain loop: picklable, so that writer processes can get it.
    ``connect`` gives what one writer holds (its ``close()`` ends it)."""

    def seed(self) -> None: ...
    def connect(self) -> Any: ...
    def transact(self, conn: Any, rng: random.Random) -> tuple[float, float]: ...
    def final(self) -> dict[str, Any]: ...
    def drop(self) -> None: ...


@dataclass(frozen=True)
class SqliteLoop:
    path: str
    durability: str

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=600)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS[self.durability]}")
        return conn

    def seed(self) -> None:
        conn = self.connect()
        try:
            conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            rows = [(k, json.dumps(v)) for k, v in seed_state().items()]
            conn.executemany("INSERT INTO kv VALUES (?, ?)", rows)
        finally:
            conn.close()

    def transact(self, conn: sqlite3.Connection, rng: random.Random) -> tuple[float, float]:
        key = f"characters/{rng.choice(CHARACTER_NAMES)}"
        asked = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        got = time.perf_counter()
        get = "SELECT value FROM kv WHERE key = ?"
        doc = json.loads(conn.execute(get, (key,)).fetchone()[0])
        total = int(conn.execute(get, (COUNTER_KEY,)).fetchone()[0])
        change(doc, rng)
        put = "UPDATE kv SET value = ? WHERE key = ?"
        conn.executemany(put, [(json.dumps(doc), key), (str(total + 1), COUNTER_KEY)])
        conn.execute("COMMIT")
        return got - asked, time.perf_counter() - got

    def final(self) -> dict[str, Any]:
        conn = self.connect()
        try:
            return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM kv")}
        finally:
            conn.close()

    def drop(self) -> None:
        pass  # in the temp folder


@dataclass(frozen=True)
class JsonLoop:
    path: str
    durability: str

    def connect(self) -> BinaryIO:
        return open(f"{self.path}.lock", "ab")  # closed by the writer

    def seed(self) -> None:
        Path(self.path).write_text(json.dumps(seed_state()))

    def transact(self, conn: BinaryIO, rng: random.Random) -> tuple[float, float]:
        key = f"characters/{rng.choice(CHARACTER_NAMES)}"
        asked = time.perf_counter()
        fcntl.flock(conn.fileno(), fcntl.LOCK_EX)
        got = time.perf_counter()
        try:
            with open(self.path, "rb") as f:
                state = json.load(f)
            change(state[key], rng)
            state[COUNTER_KEY] += 1
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(json.dumps(state).encode())
                if self.durability in DURABLE:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, self.path)
            if self.durability in DURABLE:
                folder = os.open(os.path.dirname(self.path), os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
        finally:
            fcntl.flock(conn.fileno(), fcntl.LOCK_UN)
        return got - asked, time.perf_counter() - got

    def final(self) -> dict[str, Any]:
        return dict(json.loads(Path(self.path).read_text()))

    def drop(self) -> None:
        pass  # in the temp folder


@dataclass(frozen=True)
class RedisLoop:
    url: str
    prefix: str

    def connect(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def seed(self) -> None:
        with self.connect() as r:
            r.mset({self.prefix + k: json.dumps(v) for k, v in seed_state().items()})

    def transact(self, conn: redis.Redis, rng: random.Random) -> tuple[float, float]:
        key, counter = (
            self.prefix + f"characters/{rng.choice(CHARACTER_NAMES)}",
            self.prefix + COUNTER_KEY,
        )
        asked = time.perf_counter()
        with conn.pipeline() as pipe:
            while True:
                attempt = time.perf_counter()
                try:
                    pipe.watch(key, counter)  # type: ignore[no-untyped-call]
                    raw, total = pipe.mget(key, counter)
                    if raw is None or total is None:
                        raise LookupError(f"{key} or {counter} is missing")
                    doc = json.loads(raw)
                    change(doc, rng)
                    pipe.multi()
                    pipe.set(key, json.dumps(doc))
                    pipe.set(counter, int(total) + 1)
                    pipe.execute()
                    return attempt - asked, time.perf_counter() - attempt
                except redis.WatchError:
                    continue

    def final(self) -> dict[str, Any]:
        with self.connect() as r:
            keys = list(r.scan_iter(match=f"{self.prefix}*"))
            return {
                k.decode()[len(self.prefix) :]: json.loads(v)
                for k, v in zip(keys, r.mget(keys), strict=True)
            }

    def drop(self) -> None:
        with self.connect() as r:
            keys = list(r.scan_iter(match=f"{self.prefix}*"))
            if keys:
                r.delete(*keys)


def make_loop(config: BenchConfig, folder: Path) -> Loop:
    if config.backend == "sqlite":
        return SqliteLoop(str(folder / "reference.db"), config.durability)
    if config.backend == "json":
        return JsonLoop(str(folder / "reference.json"), config.durability)
    return RedisLoop(config.redis_url, f"bench-ref-{uuid.uuid4().hex[:12]}:")


def _record(hist: HdrHistogram, seconds: float) -> None:
    hist.record_value(max(1, math.ceil(seconds * 1_000_000)))  # as the store's metrics do


async def _task_writer(loop: Loop, ops: int, seed_value: int, wait: Any, hold: Any) -> None:
    conn, rng = loop.connect(), random.Random(seed_value)
    try:
        for _ in range(ops):
            waited, held = loop.transact(conn, rng)
            _record(wait, waited)
            _record(hold, held)
            await asyncio.sleep(0)
    finally:
        conn.close()


def _child(loop: Loop, ops: int, seed_value: int, barrier: Any, out: Any) -> None:
    conn, rng = loop.connect(), random.Random(seed_value)
    wait, hold = new_histogram(), new_histogram()
    barrier.wait()
    started = time.monotonic()
    for _ in range(ops):
        waited, held = loop.transact(conn, rng)
        _record(wait, waited)
        _record(hold, held)
    ended = time.monotonic()
    conn.close()
    encoded = {
        k: base64.b64encode(h.encode()).decode() for k, h in (("wait", wait), ("hold", hold))
    }
    out.put({"started": started, "ended": ended, "committed": ops, **encoded})


async def _run(loop: Loop, config: BenchConfig) -> tuple[int, float, HdrHistogram, HdrHistogram]:
    wait, hold = new_histogram(), new_histogram()
    if config.mode == "tasks":
        started = time.monotonic()
        await asyncio.gather(
            *(_task_writer(loop, config.ops, i, wait, hold) for i in range(config.writers))
        )
        return config.writers * config.ops, time.monotonic() - started, wait, hold
    return await run_children(_child, (loop, config.ops), config.writers)


async def run_reference(config: BenchConfig) -> BenchResult:
    """The plain loop for ``config``'s backend, writers and durability, in a fresh store."""
    with tempfile.TemporaryDirectory(prefix="bench-ref-", dir=config.folder) as tmp:
        loop = make_loop(config, Path(tmp))
        try:
            loop.seed()
            committed, elapsed, wait, hold = await _run(loop, config)
            final = loop.final()
        finally:
            loop.drop()
    chars = {k: v for k, v in final.items() if k.startswith("characters/")}
    expected = config.writers * config.ops
    per_character = sum(doc["traits"]["updates"] for doc in chars.values())
    lost = max(expected - per_character, expected - int(final[COUNTER_KEY]))
    size = len(json.dumps(chars, separators=(",", ":")))
    return make_result(config, committed, elapsed, lost, wait, hold, size)


@dataclass
class Comparison:
    """Rounds of (reference, store), run one after the other, and their medians."""

    rounds: list[tuple[BenchResult, BenchResult]]

    @property
    def lost_updates(self) -> int:
        return sum(ref.lost_updates + store.lost_updates for ref, store in self.rounds)

    def medians(self) -> dict[str, float]:
        def med(side: int, get: Any) -> float:
            return round(float(statistics.median(get(pair[side]) for pair in self.rounds)), 3)

        ref_tx = med(0, lambda r: r.tx_per_s)
        store_tx = med(1, lambda r: r.tx_per_s)
        return {
            "reference_tx_per_s": round(ref_tx, 1),
            "store_tx_per_s": round(store_tx, 1),
            "ratio": round(store_tx / ref_tx, 3) if ref_tx else 0.0,
            "reference_p99_ms": med(0, lambda r: r.lock_wait.get("p99_ms", 0.0)),
            "store_p99_ms": med(1, lambda r: r.lock_wait.get("p99_ms", 0.0)),
            "reference_max_ms": med(0, lambda r: r.lock_wait.get("max_ms", 0.0)),
            "store_max_ms": med(1, lambda r: r.lock_wait.get("max_ms", 0.0)),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": [
                {
                    "reference": asdict(ref),
                    "store": asdict(store),
                    "ratio": round(store.tx_per_s / ref.tx_per_s, 3) if ref.tx_per_s else 0.0,
                }
                for ref, store in self.rounds
            ],
            "median": self.medians(),
            "lost_updates": {
                "reference": sum(ref.lost_updates for ref, _ in self.rounds),
                "store": sum(store.lost_updates for _, store in self.rounds),
            },
        }


async def run_compared(config: BenchConfig, rounds: int) -> Comparison:
    """Reference, store, reference, store, ...: ``rounds`` of each, interleaved."""
    pairs = []
    for _ in range(rounds):
        reference = await run_reference(config)
        pairs.append((reference, await run_bench(config)))
    return Comparison(pairs)


def format_comparison(comparison: Comparison) -> str:
    """Every round's figures, then the medians side by side and their ratio."""
    lines = []
    for number, (ref, store) in enumerate(comparison.rounds, 1):
        lines += [f"round {number}: reference (plain loop)", format_result(ref)]
        lines += [f"round {number}: store", format_result(store)]
    m = comparison.medians()
    data = comparison.to_dict()
    lines += [
        f"median of {len(comparison.rounds)} rounds    reference    store",
        f"  transactions/s      {m['reference_tx_per_s']:>9,.0f}  {m['store_tx_per_s']:>7,.0f}",
        f"  lock wait p99 ms    {m['reference_p99_ms']:>9}  {m['store_p99_ms']:>7}",
        f"  lock wait max ms    {m['reference_max_ms']:>9}  {m['store_max_ms']:>7}",
        f"  lost updates        {data['lost_updates']['reference']:>9}  "
        f"{data['lost_updates']['store']:>7}",
        f"  store / reference   {m['ratio']:.2f} x the reference's transactions/s",
    ]
    return "\n".join(lines)
