import asyncio

import pytest

from agents.clients.base import LLMRequest, Message, SystemBlock
from agents.clients.caching import cached_prefix
from agents.errors import OfflineBriefError
from agents.offline.client import OfflineClient
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import ChapterJob, Outline, ProjectBrief
from agents.tokens import estimate_tokens
from agents.writer import ChapterWriter
from tests.agents.conftest import OFFLINE


def _request(brief: ProjectBrief, bible: str = "bible") -> LLMRequest:
    return LLMRequest(
        agent="planner",
        model="offline",
        system=(SystemBlock("instructions"), SystemBlock(bible, cache=True)),
        messages=(Message("user", "plan it"),),
        output_model=Outline,
        brief=brief,
    )


async def test_same_seed_same_book(brief: ProjectBrief, prompts: PromptLibrary) -> None:
    books = []
    for _ in range(2):
        client = OfflineClient(seed=11, drift=0.5)
        outline = await Planner(client, prompts, "en", OFFLINE).plan(brief)
        writer = ChapterWriter(client, prompts, brief, OFFLINE)
        draft = await writer.write(ChapterJob(plan=outline.chapter(1), state=brief.initial))
        books.append((outline, draft.text, draft.delta.changes))
    assert books[0] == books[1]


async def test_another_seed_another_book(brief: ProjectBrief, prompts: PromptLibrary) -> None:
    outlines = [
        await Planner(OfflineClient(seed=seed), prompts, "en", OFFLINE).plan(brief)
        for seed in (1, 2)
    ]
    assert outlines[0] != outlines[1]


async def test_it_names_itself_offline_and_estimates_usage(brief: ProjectBrief) -> None:
    client = OfflineClient()
    first = await client.complete(_request(brief, bible="word " * 400))
    second = await client.complete(_request(brief, bible="word " * 400))
    assert first.model == second.model == "offline"
    assert first.usage.input_tokens > 0
    assert first.usage.output_tokens > 100
    prefix = estimate_tokens(cached_prefix(_request(brief, bible="word " * 400)) or "")
    assert prefix > 500  # the schema and the instructions before the bible, as the API caches
    assert first.usage.cache_write_tokens == prefix
    assert (second.usage.cache_write_tokens, second.usage.cache_read_tokens) == (0, prefix)
    assert isinstance(first.parsed, Outline)


async def test_latency_is_simulated_without_blocking(brief: ProjectBrief) -> None:
    client = OfflineClient(latency_ms=100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    replies = await asyncio.gather(*(client.complete(_request(brief)) for _ in range(10)))
    assert all(reply.usage.latency_s >= 0.1 for reply in replies)
    # Ten calls sleep concurrently: far less than ten times the latency.
    assert loop.time() - started < 0.9


async def test_a_request_without_a_brief_is_refused() -> None:
    request = LLMRequest(agent="writer", model="offline", system=(), messages=())
    with pytest.raises(OfflineBriefError, match="writer"):
        await OfflineClient().complete(request)


def test_drift_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match="drift"):
        OfflineClient(drift=1.5)
