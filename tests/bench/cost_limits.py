"""Cost and rate-limit benchmarks against the realistic fake Messages API: figures, never asserts.

    python -m tests.bench.cost_limits [--rounds 2] [--scale 10] [--only cost,limits,estimate]

It needs a clone (the fake lives with the tests, as ``python -m tests.fake_anthropic``
does, and is not in the wheel), so it is a script here rather than an ``orchestrator
bench`` command. Every run is a real ``run_novel`` with the real ``AnthropicClient`` and
SDK, in this process, against the fake on 127.0.0.1, with Sonnet 4.5 prices:

- cost: the example (12 chapters) and a 40-chapter book at 20 writers, each run the
  way the client behaved before issue 16 (every call at once, no minimum checked) and
  after (the cache gate and the minimum), interleaved round by round, with 2 s replies
  whose response begins after 0.4 s (not scaled): dollars per 10,000 words, the share
  of input read from the cache, cache writes.
- limits: the 40-chapter book with the fake at a tier's limits (50 requests, 30,000
  input and 8,000 output tokens a minute) and 2 s replies, with time scaled down by
  ``--scale`` (the window, the reply time and the client's minute alike): wall time
  against the bound the limits set, and the 429s met.
- estimate: ``estimate_book`` of each book against its "after" run: cost and tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.clients.anthropic import AnthropicClient
from agents.clients.base import Usage
from agents.clients.caching import CacheMinimums, PromptCaching
from agents.clients.metered import MeteredClient
from agents.clients.rate_limiter import RateLimiter
from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli import logs
from orchestrator.project.clients import make_client, run_prices
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import load_config
from orchestrator.run.estimate import estimate_book
from orchestrator.run.novel import RunRequest, run_novel
from tests.fake_anthropic import FakeAnthropic
from tests.fake_anthropic.limits import Limits

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.yaml"
MODEL = "claude-sonnet-4-5"
ANTHROPIC = ("llm.provider=anthropic", f"llm.model={MODEL}")
BOOKS = {
    "example": (),
    "40 chapters": ("project.chapters=40", "orchestrator.workers=20"),
}
TIER = {"requests": 50, "input_tokens": 30_000, "output_tokens": 8_000}
REPLY_S, FIRST_EVENT_S = 2.0, 0.4  # a chapter's reply; its first event
# Chapters of 1,500 words are about 2,000 tokens of output: max_tokens near that, as a
# tier-1 user sets it (the API reserves max_tokens of output when a request starts).
LIMITED_MAX_TOKENS = 3000


@dataclass
class Figures:
    """One run's figures."""

    book: str
    mode: str
    wall_s: float
    words: int
    calls: int
    usage: Usage
    cache_writes: int
    refused: int
    bound_s: float | None = None
    floor_s: float | None = None

    @property
    def per_10k_words(self) -> float:
        return self.usage.cost_usd * 10_000 / max(1, self.words)

    @property
    def read_share(self) -> float:
        u = self.usage
        total = u.input_tokens + u.cache_write_tokens + u.cache_read_tokens
        return u.cache_read_tokens / total if total else 0.0


def config_of(book: str, *extra: str) -> ProjectConfig:
    return load_config(EXAMPLE, [*ANTHROPIC, *BOOKS[book], *extra])


async def one_run(
    config: ProjectConfig, fake: FakeAnthropic, mode: str, window_s: float = 60.0
) -> tuple[Any, MeteredClient]:
    env = {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
    inner = make_client(config, str(EXAMPLE), env)
    assert isinstance(inner, AnthropicClient)
    limits = config.llm.rate_limits
    inner.limiter = RateLimiter(
        requests_per_minute=limits.requests_per_minute,
        input_tokens_per_minute=limits.input_tokens_per_minute,
        output_tokens_per_minute=limits.output_tokens_per_minute,
        window_s=window_s,
    )
    if mode == "before":  # every call at once, no minimum checked: the client before
        inner.caching = PromptCaching(CacheMinimums(), config.llm.cache_ttl, gated=False)
    client = MeteredClient(inner)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        folder = RunFolder.create(Path(tmp) / "run")
        folder.lock()
        try:
            request = RunRequest(config, EXAMPLE, folder)
            summary = await run_novel(request, lambda _e, _f: None, client)
        finally:
            folder.unlock()
            await client.aclose()
    return summary, client


def figures(
    book: str, mode: str, fake: FakeAnthropic, summary: Any, client: MeteredClient
) -> Figures:
    return Figures(
        book=book,
        mode=mode,
        wall_s=summary.wall_s,
        words=summary.words,
        calls=len(client.calls),
        usage=client.usage(),
        cache_writes=fake.cache.writes,
        refused=fake.rate.refused,
    )


def cost_series(rounds: int) -> list[Figures]:
    """Before and after, interleaved, for each book; replies of 2 s, not scaled: how many
    writers start before the first response begins depends on the time to it."""
    results = []
    for _ in range(rounds):
        for book in BOOKS:
            for mode in ("before", "after"):
                fake = FakeAnthropic(reply_s=REPLY_S, first_event_s=FIRST_EVENT_S)
                fake.start()
                try:
                    summary, client = asyncio.run(one_run(config_of(book), fake, mode))
                finally:
                    fake.stop()
                results.append(figures(book, mode, fake, summary, client))
    return results


def limits_series(rounds: int, scale: float) -> list[Figures]:
    """The 40-chapter book at the tier's limits, time scaled by ``scale``."""
    window = 60.0 / scale
    limits = Limits(**TIER, window_s=window)
    sets = (
        f"llm.rate_limits.requests_per_minute={TIER['requests']}",
        f"llm.rate_limits.input_tokens_per_minute={TIER['input_tokens']}",
        f"llm.rate_limits.output_tokens_per_minute={TIER['output_tokens']}",
        f"llm.max_tokens={LIMITED_MAX_TOKENS}",
    )
    results = []
    for _ in range(rounds):
        fake = FakeAnthropic(
            limits=limits, reply_s=REPLY_S / scale, first_event_s=FIRST_EVENT_S / scale
        ).start()
        try:
            started = time.perf_counter()
            summary, client = asyncio.run(
                one_run(config_of("40 chapters", *sets), fake, "after", window)
            )
            wall = time.perf_counter() - started
        finally:
            fake.stop()
        result = figures("40 chapters", "limits", fake, summary, client)
        result.wall_s = wall
        u = result.usage
        windows = max(
            result.calls / TIER["requests"],
            (u.input_tokens + u.cache_write_tokens) / TIER["input_tokens"],
            u.output_tokens / TIER["output_tokens"],
        )
        result.bound_s = windows * window
        # The buckets start full: one window's allowance comes at once, so no run can take
        # less than this.
        result.floor_s = max(0.0, windows - 1) * window
        results.append(result)
    return results


def estimate_series(after: list[Figures]) -> list[tuple[str, float, float, dict[str, float]]]:
    """(book, estimated $, actual $, estimated/actual per token kind) per book."""
    rows = []
    for book in BOOKS:
        runs = [f for f in after if f.book == book and f.mode == "after"]
        config = config_of(book)
        estimate = asyncio.run(estimate_book(config, EXAMPLE, run_prices(config), MODEL))
        actual = runs[-1].usage
        e = estimate.usage
        kinds = {
            "input": e.input_tokens / max(1, actual.input_tokens),
            "cache write": e.cache_write_tokens / max(1, actual.cache_write_tokens),
            "cache read": e.cache_read_tokens / max(1, actual.cache_read_tokens),
            "output": e.output_tokens / max(1, actual.output_tokens),
        }
        rows.append((book, estimate.cost_usd, actual.cost_usd, kinds))
    return rows


def report_cost(results: list[Figures]) -> list[str]:
    lines = ["## cost (Sonnet 4.5 prices; medians)", ""]
    lines.append(
        "| book | mode | $ per 10,000 words | $ per book | input read from cache "
        "| cache writes | calls |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for book in BOOKS:
        for mode in ("before", "after"):
            runs = [f for f in results if f.book == book and f.mode == mode]
            med = statistics.median
            lines.append(
                f"| {book} | {mode} | {med(f.per_10k_words for f in runs):.4f} "
                f"| {med(f.usage.cost_usd for f in runs):.4f} "
                f"| {med(f.read_share for f in runs):.1%} "
                f"| {med(f.cache_writes for f in runs):g} | {med(f.calls for f in runs):g} |"
            )
    return lines


def report_limits(results: list[Figures], scale: float) -> list[str]:
    lines = ["", f"## throughput under limits (time scaled down {scale:g}x)", ""]
    lines.append(
        "| run | wall s | bound s (totals / limits) | ratio | floor s (less the first full "
        "bucket) | ratio | 429s | calls |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for n, f in enumerate(results, 1):
        bound, floor = f.bound_s or 0.0, f.floor_s or 0.0
        lines.append(
            f"| {n} | {f.wall_s:.1f} | {bound:.1f} | {f.wall_s / bound:.3f} | {floor:.1f} "
            f"| {f.wall_s / floor:.3f} | {f.refused} | {f.calls} |"
        )
    return lines


def report_estimate(rows: list[tuple[str, float, float, dict[str, float]]]) -> list[str]:
    lines = ["", "## the estimate against the run", ""]
    lines.append(
        "| book | estimated $ | actual $ | ratio | input | cache write | cache read | output |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for book, estimated, actual, kinds in rows:
        ratios = " | ".join(f"{v:.2f}" for v in kinds.values())
        lines.append(
            f"| {book} | {estimated:.4f} | {actual:.4f} | {estimated / actual:.3f} | {ratios} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cost_limits", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each case")
    parser.add_argument("--scale", type=float, default=10.0, help="time scaled down this much")
    parser.add_argument("--only", default="cost,limits,estimate", help="which parts")
    args = parser.parse_args(argv)
    logs.configure(level="error")
    parts = set(args.only.split(","))
    lines: list[str] = []
    cost: list[Figures] = []
    if "cost" in parts or "estimate" in parts:
        cost = cost_series(args.rounds)
        lines += report_cost(cost)
    if "limits" in parts:
        lines += report_limits(limits_series(args.rounds, args.scale), args.scale)
    if "estimate" in parts:
        lines += report_estimate(estimate_series(cost))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
