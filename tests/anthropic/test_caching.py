"""Prompt caching and rate limits as the API has them: the client against the realistic fake."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from agents.clients.caching import CacheMinimums, PromptCaching, load_cache_minimums
from agents.clients.pricing import load_prices
from agents.clients.rate_limiter import RateLimiter
from tests.anthropic.conftest import MODEL, MakeClient, StartFake, run_on_fake
from tests.anthropic.test_client import writer_request
from tests.e2e.conftest import EXAMPLE, write_project
from tests.fake_anthropic import FakeAnthropic
from tests.fake_anthropic.limits import Limits
from tests.fake_anthropic.model import PromptCache, _split_at_cache_mark

WRITERS = 20


def written_per_prefix(fake: FakeAnthropic) -> Counter[str]:
    """Cache writes the fake recorded, per marked prefix."""
    writes: Counter[str] = Counter()
    for request in fake.requests:
        if request.usage is not None and request.usage.cache_creation_input_tokens:
            writes[_split_at_cache_mark(request.body)[0]] += 1
    return writes


def long_world_project(folder: Path) -> None:
    """The example with world notes long enough for a bible over 2,048 tokens."""
    project = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    project["world"] += [
        f"Note {n}: the harbour bells of Vell ring the tides. " * 12 for n in range(24)
    ]
    write_project(folder, yaml.safe_dump(project, allow_unicode=True))


def test_twenty_writers_starting_together_make_one_cache_write(tmp_path: Path) -> None:
    long_world_project(tmp_path)
    fake = FakeAnthropic(reply_s=0.3, first_event_s=0.05).start()
    try:
        run = run_on_fake(
            tmp_path,
            fake,
            f"project.chapters={WRITERS}",
            f"orchestrator.workers={WRITERS}",
            "orchestrator.context_tokens=20000",  # room for the whole bible in every chapter
        )
    finally:
        fake.stop()
    assert run.proc.returncode == 0, run.proc.stderr
    writes = written_per_prefix(fake)
    assert writes
    assert set(writes.values()) == {1}
    writers = [r for r in fake.of("writer") if r.usage is not None]
    assert len(writers) >= WRITERS
    reads = [r for r in writers if r.usage and r.usage.cache_read_input_tokens]
    assert len(reads) == len(writers) - 1
    usage = run.summary["usage"]
    assert usage["cache_read_tokens"] > usage["cache_write_tokens"] > 0


async def test_an_entry_unused_for_its_ttl_is_written_again(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    now = [0.0]
    fake = start_fake()
    fake.cache = PromptCache(clock=lambda: now[0])
    client = make_client(fake)
    client.caching = PromptCaching(load_cache_minimums(), clock=lambda: now[0])

    first = await client.complete(writer_request(1))
    now[0] = 299.0
    second = await client.complete(writer_request(2))
    now[0] = 299.0 + 301.0
    third = await client.complete(writer_request(3))

    assert first.usage.cache_write_tokens > 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert third.usage.cache_write_tokens == first.usage.cache_write_tokens
    assert (fake.cache.writes, fake.cache.reads) == (2, 1)


async def test_a_one_hour_cache_is_asked_for_and_priced_at_twice_the_input(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    response = await make_client(fake, cache_ttl="1h").complete(writer_request())

    _, bible = fake.requests[0].body["system"]
    assert bible["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    price = load_prices().require(MODEL)
    written = response.usage.cache_write_tokens
    assert written > 0
    plain = response.usage.model_copy(update={"cache_write_tokens": 0})
    expected = price.cost(plain) + written * price.input * 2 / 1_000_000
    assert response.usage.cost_usd == pytest.approx(expected)


async def burst(
    client_calls: int, make: MakeClient, fake: FakeAnthropic, limiter: RateLimiter
) -> None:
    client = make(fake, limiter=limiter)
    await asyncio.gather(*(client.complete(writer_request(n)) for n in range(1, client_calls + 1)))


async def test_the_fakes_limits_are_honoured_with_few_429s(
    make_client: MakeClient,
) -> None:
    limits = Limits(requests=8, input_tokens=200_000, output_tokens=50_000, window_s=1.0)
    fake = FakeAnthropic(limits=limits).start()
    try:
        limiter = RateLimiter(requests_per_minute=8, window_s=1.0)
        started = asyncio.get_running_loop().time()
        await burst(24, make_client, fake, limiter)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        fake.stop()
    good = [r for r in fake.requests if r.fault is None]
    assert len(good) == 24
    assert fake.rate.refused <= 2
    assert elapsed >= 1.5  # 24 requests at 8 a second, 8 of them at once: 2 s at least


async def test_429s_and_headers_teach_a_client_with_no_limits_set(
    make_client: MakeClient,
) -> None:
    limits = Limits(requests=6, input_tokens=200_000, output_tokens=50_000, window_s=1.0)
    fake = FakeAnthropic(limits=limits).start()
    try:
        limiter = RateLimiter(window_s=1.0)
        await burst(12, make_client, fake, limiter)
        first_burst = fake.rate.refused
        await burst(12, make_client, fake, limiter)
    finally:
        fake.stop()
    assert limiter.bucket("requests").per_minute == 6  # learnt from the headers
    assert len([r for r in fake.requests if r.fault is None]) == 24
    assert fake.rate.refused - first_burst <= 2  # the second burst kept to the limit
    refused = [r for r in fake.requests if r.fault == "over_limit"]
    assert all(r.body for r in refused)


async def test_the_fake_lets_no_one_read_an_entry_before_its_writers_response_began(
    make_client: MakeClient,
) -> None:
    fake = FakeAnthropic(reply_s=0.4, first_event_s=0.3).start()
    try:
        client = make_client(fake)
        client.caching = PromptCaching(load_cache_minimums(), gated=False)  # all at once
        await asyncio.gather(*(client.complete(writer_request(n)) for n in range(1, 6)))
    finally:
        fake.stop()
    assert (fake.cache.writes, fake.cache.reads) == (5, 0)  # each paid the write


async def test_the_fake_caches_no_prefix_under_the_models_minimum(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    client = make_client(fake)
    client.caching = PromptCaching(CacheMinimums())  # marks whatever is marked
    short = writer_request(1)
    short = replace(short, system=(short.system[0], replace(short.system[1], text="Vell.")))
    first = await client.complete(short)
    second = await client.complete(short)
    assert fake.requests[0].body["system"][1]["cache_control"]  # marked, but too short
    assert first.usage.cache_write_tokens == second.usage.cache_read_tokens == 0
