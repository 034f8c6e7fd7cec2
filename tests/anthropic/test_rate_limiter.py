"""The shared rate limiter: its buckets, the API's headers, and a 429 that pauses everyone.

Waits are checked from below only (a limiter may never let a call through
early); how fast things go is the benchmarks' business.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from agents.clients.rate_limiter import RateLimiter
from tests.anthropic.conftest import MakeClient, StartFake
from tests.anthropic.test_client import writer_request
from tests.fake_anthropic import Fault, Rule


def reset_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def test_requests_beyond_the_bucket_wait_for_it_to_refill() -> None:
    limiter = RateLimiter(requests_per_minute=600)  # ten a second, a bucket of 600
    started = time.monotonic()
    for _ in range(600):
        await limiter.acquire(0, 0)
    assert limiter.waited_s == 0
    await limiter.acquire(0, 0)
    assert time.monotonic() - started >= 0.09  # one more needs a tenth of a second of refill
    assert limiter.waited_s > 0


async def test_output_is_reserved_at_max_tokens_and_settled_at_what_was_used() -> None:
    limiter = RateLimiter(output_tokens_per_minute=10_000)
    reserved = await limiter.acquire(input_tokens=500, output_tokens=8_000)
    assert limiter.bucket("output-tokens").level == pytest.approx(2_000, abs=5)
    limiter.settle(reserved, input_tokens=480, output_tokens=1_500)
    assert limiter.bucket("output-tokens").level == pytest.approx(8_500, abs=5)


async def test_a_request_larger_than_the_bucket_goes_through_once_it_is_full() -> None:
    limiter = RateLimiter(input_tokens_per_minute=1_000)
    await limiter.acquire(input_tokens=5_000, output_tokens=0)  # would otherwise wait forever
    assert limiter.bucket("input-tokens").level < 0  # the debt slows whoever comes next


async def test_the_apis_lower_limit_replaces_the_configured_one() -> None:
    limiter = RateLimiter(requests_per_minute=1_000)
    limiter.observe(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "10",
            "anthropic-ratelimit-requests-reset": reset_in(30),
            "anthropic-ratelimit-output-tokens-limit": "8000",
        }
    )
    requests = limiter.bucket("requests")
    assert requests.per_minute == 50
    assert requests.level <= 10  # the server's count includes other clients of the org
    assert limiter.bucket("output-tokens").per_minute == 8000  # unset before: now known


async def test_an_exhausted_limit_holds_every_call_until_its_reset() -> None:
    limiter = RateLimiter()
    limiter.observe(
        {
            "anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset_in(0.4),
        }
    )
    started = time.monotonic()
    await asyncio.gather(limiter.acquire(10, 10), limiter.acquire(10, 10))
    assert time.monotonic() - started >= 0.3  # reset times are whole milliseconds apart at most


async def test_a_pause_holds_every_caller() -> None:
    limiter = RateLimiter()
    limiter.pause(0.25)
    started = time.monotonic()
    finished: list[float] = []

    async def call() -> None:
        await limiter.acquire(1, 1)
        finished.append(time.monotonic() - started)

    await asyncio.gather(*(call() for _ in range(5)))
    assert len(finished) == 5
    assert min(finished) >= 0.24


async def test_callers_are_served_in_the_order_they_came() -> None:
    limiter = RateLimiter(requests_per_minute=6_000)  # 100 a second
    for _ in range(6_000):
        await limiter.acquire(0, 0)
    order: list[int] = []

    async def call(n: int) -> None:
        await limiter.acquire(0, 0)
        order.append(n)

    await asyncio.gather(*(call(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_one_429_slows_every_writer_of_the_client(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("rate_limit", retry_after=0.4)], agent="writer", chapter=1))
    client = make_client(fake)
    first = asyncio.create_task(client.complete(writer_request(1)))
    for _ in range(1000):  # until the client has had its 429 (bounded: never hangs)
        if client.limiter.paused_until > 0:
            break
        await asyncio.sleep(0.005)
    refused_at = fake.requests[0].at
    await asyncio.gather(first, client.complete(writer_request(2)))

    later = [r for r in fake.requests if r.fault is None]
    assert len(later) == 2
    # Chapter 2 came after the 429 and waited with chapter 1 for retry-after.
    assert all(r.at - refused_at >= 0.4 for r in later)


async def test_headers_saying_none_are_left_hold_the_next_call_until_their_reset(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("exhausted", delay_s=0.4)]))
    client = make_client(fake)
    await client.complete(writer_request(1))
    await client.complete(writer_request(2))

    first, second = fake.requests
    assert first.fault == "exhausted"
    assert second.at - first.at >= 0.3  # the reset is 0.4 s after the reply was sent


async def test_no_more_calls_are_in_flight_than_the_concurrency_limit(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("slow", delay_s=0.3)] * 4))
    client = make_client(fake, concurrency=2)
    await asyncio.gather(*(client.complete(writer_request(n)) for n in range(1, 5)))

    arrivals = sorted(r.at for r in fake.requests)
    assert len(arrivals) == 4
    # A third call can only start once one of the first two has had its 0.3 s reply.
    assert arrivals[2] - arrivals[0] >= 0.3
