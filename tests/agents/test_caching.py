"""Prompt caching by the API's rules: the minimum per model, one write per prefix, the TTL."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from agents.clients.base import LLMRequest, Message, SystemBlock, Usage
from agents.clients.caching import (
    CacheGate,
    CacheMinimums,
    PromptCaching,
    cached_prefix,
    load_cache_minimums,
)
from agents.clients.pricing import load_prices
from agents.schemas import Outline
from agents.tokens import estimate_tokens

SHORT, LONG = "fog " * 200, "fog " * 2000  # about 200 and 2,000 tokens


def request(bible: str, agent: str = "writer", model: str = "claude-sonnet-4-6") -> LLMRequest:
    return LLMRequest(
        agent=agent,
        model=model,
        system=(SystemBlock("You write."), SystemBlock(bible, cache=True)),
        messages=(Message("user", "Write chapter 1."),),
        output_model=Outline,
    )


def test_the_shipped_table_has_the_documented_minimums() -> None:
    table = load_cache_minimums()
    assert table.minimum("claude-opus-4-6") == table.minimum("claude-haiku-4-5") == 4096
    assert table.minimum("claude-sonnet-4-6") == 2048
    assert table.minimum("claude-sonnet-4-5-20250929") == 1024  # its family's row
    assert table.minimum("claude-3-haiku") == 2048
    assert table.minimum("offline") is None


def test_the_prefix_is_the_schema_and_the_system_blocks_up_to_the_mark() -> None:
    prefix = cached_prefix(request(SHORT)) or ""
    assert prefix.startswith("{")
    assert "You write." in prefix
    assert prefix.endswith(SHORT)
    assert cached_prefix(LLMRequest("x", "m", (SystemBlock("a"),), ())) is None


def test_a_prefix_under_the_minimum_is_unmarked_and_said_once_with_the_figures() -> None:
    caching = PromptCaching(load_cache_minimums())
    with capture_logs() as logs:
        first, key, tokens = caching.prepare(request(SHORT))
        caching.prepare(request(SHORT))
    assert key is None
    assert not any(block.cache for block in first.system)
    [warning] = [e for e in logs if e["event"] == "prompt_cache_too_short"]
    assert warning["log_level"] == "warning"
    assert (warning["prefix_tokens"], warning["minimum_tokens"]) == (tokens, 2048)
    assert warning["agent"] == "writer"
    assert warning["model"] == "claude-sonnet-4-6"


def test_a_long_enough_prefix_stays_marked() -> None:
    sent, key, tokens = PromptCaching(load_cache_minimums()).prepare(request(LONG))
    assert key is not None
    assert sent.system[1].cache
    assert tokens == estimate_tokens(cached_prefix(sent) or "") >= 2048


async def test_twenty_calls_sharing_a_prefix_make_one_write() -> None:
    caching, order = PromptCaching(CacheMinimums()), []

    async def call(number: int) -> None:
        async with caching.turn(request(LONG)) as (_, turn):
            await asyncio.sleep(0.01)
            order.append((number, turn.writes))
            turn.begun()

    await asyncio.gather(*(call(n) for n in range(20)))
    assert [writes for _, writes in order].count(True) == 1
    assert order[0][1] is True  # the readers started after the writer's response began
    assert caching.gate.writes == 1


async def test_a_writer_that_fails_lets_the_next_one_write() -> None:
    gate = CacheGate()
    assert await gate.enter("k") is True
    waiter = asyncio.create_task(gate.enter("k"))
    await asyncio.sleep(0)
    gate.abandoned("k")
    assert await waiter is True


async def test_an_entry_unused_for_its_ttl_is_written_again() -> None:
    now = [0.0]
    gate = CacheGate(ttl_s=300, clock=lambda: now[0])
    assert await gate.enter("k") is True
    gate.begun("k")
    now[0] = 299.0
    assert await gate.enter("k") is False  # a read keeps it alive
    now[0] = 598.0
    assert await gate.enter("k") is False
    now[0] = 899.0
    assert await gate.enter("k") is True
    assert gate.writes == 2


@pytest.mark.parametrize(("ttl", "factor"), [("5m", 1.25), ("1h", 2.0)])
def test_cache_writes_are_priced_by_their_ttl(ttl: str, factor: float) -> None:
    price = load_prices().require("claude-sonnet-4-5")
    usage = Usage(cache_write_tokens=1_000_000)
    assert price.cost(usage, ttl) == pytest.approx(price.input * factor)
