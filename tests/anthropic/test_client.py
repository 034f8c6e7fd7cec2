"""The Anthropic client, through the real SDK, against the fake Messages API."""

from __future__ import annotations

import pytest

from agents.clients.anthropic_wire import tool_name
from agents.clients.base import LLMRequest, Message, SystemBlock
from agents.clients.pricing import load_prices
from agents.clients.settings import RetrySettings
from agents.errors import ModelCallError
from agents.schemas import ChapterReport
from tests.anthropic.conftest import API_KEY, FAULT_SLOW_S, MODEL, SECRET, MakeClient, StartFake
from tests.fake_anthropic import Fault, Rule

BIBLE = "# Story bible\n\n" + "The fog never lifts over Vell. " * 300  # over 2,048 tokens
STREAMED, PLAIN = 8192, 1024  # max_tokens on either side of stream_from_tokens (4096)


def writer_request(chapter: int = 1, max_tokens: int = STREAMED) -> LLMRequest:
    """A chapter request, shaped as the ChapterWriter's (the fake reads the prompt)."""
    prompt = (
        f'Write chapter {chapter} of 6: "Fog".\n\nLength: about 120 words.\n\n'
        "Foreshadowing to plant: -\nForeshadowing to pay off: -\n"
    )
    return LLMRequest(
        agent="writer",
        model=MODEL,
        system=(SystemBlock("You are a novelist."), SystemBlock(BIBLE, cache=True)),
        messages=(Message("user", prompt),),
        max_tokens=max_tokens,
    )


def extractor_request(chapter: int = 1, max_tokens: int = PLAIN) -> LLMRequest:
    """A report request, shaped as the ChapterExtractor's."""
    prompt = (
        f'Read chapter {chapter} of 6, "Fog", and report what happened in it.\n\n'
        "Foreshadowing the plan has this chapter plant: the-key\n"
        "Foreshadowing the plan has this chapter pay off: -\n"
    )
    return LLMRequest(
        agent="extractor",
        model=MODEL,
        system=(SystemBlock("You read chapters."), SystemBlock(BIBLE, cache=True)),
        messages=(Message("user", prompt),),
        max_tokens=max_tokens,
        output_model=ChapterReport,
    )


@pytest.mark.parametrize("max_tokens", [STREAMED, PLAIN], ids=["streamed", "plain"])
async def test_the_reply_is_the_prose_with_its_stop_reason_and_usage_priced(
    start_fake: StartFake, make_client: MakeClient, max_tokens: int
) -> None:
    fake = start_fake()
    response = await make_client(fake).complete(writer_request(max_tokens=max_tokens))

    assert response.text.startswith("In chapter 1 the fog held the harbour")
    assert response.stop_reason == "end_turn"
    [seen] = fake.requests
    assert seen.body.get("stream", False) is (max_tokens == STREAMED)
    assert seen.api_key == API_KEY
    assert seen.usage is not None
    assert response.usage.input_tokens == seen.usage.input_tokens
    assert response.usage.output_tokens == seen.usage.output_tokens
    assert response.usage.cache_write_tokens == seen.usage.cache_creation_input_tokens > 0
    assert response.usage.cache_read_tokens == seen.usage.cache_read_input_tokens == 0
    price = load_prices().require(MODEL)
    assert response.usage.cost_usd == pytest.approx(price.cost(response.usage))
    assert response.usage.cost_usd > 0


@pytest.mark.parametrize("max_tokens", [STREAMED, PLAIN], ids=["streamed", "plain"])
async def test_a_structured_reply_is_the_tool_call(
    start_fake: StartFake, make_client: MakeClient, max_tokens: int
) -> None:
    fake = start_fake()
    response = await make_client(fake).complete(extractor_request(max_tokens=max_tokens))

    report = response.output(ChapterReport)
    assert report.summary.startswith("Chapter 1")
    assert report.planted == ["the-key"]
    assert response.stop_reason == "tool_use"


async def test_the_writer_asks_for_prose_and_the_extractor_for_the_schema(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    client = make_client(fake)
    await client.complete(writer_request())
    await client.complete(extractor_request())

    writer, extractor = (r.body for r in fake.requests)
    assert "tools" not in writer  # prose, never inside JSON
    assert "tool_choice" not in writer
    body = extractor
    instructions, bible = body["system"]
    assert "cache_control" not in instructions
    assert bible == {"type": "text", "text": BIBLE, "cache_control": {"type": "ephemeral"}}
    [tool] = body["tools"]
    assert tool["name"] == tool_name(ChapterReport) == "chapter_report"
    assert tool["input_schema"] == ChapterReport.model_json_schema()
    assert body["tool_choice"] == {"type": "tool", "name": "chapter_report"}
    assert body["temperature"] == 0.7  # not the API's default, so it is sent
    assert body["model"] == MODEL


async def test_the_second_writer_reads_the_bible_from_the_cache(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    client = make_client(fake)
    first = await client.complete(writer_request(1))
    second = await client.complete(writer_request(2))

    assert first.usage.cache_write_tokens > 0
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_write_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cost_usd < first.usage.cost_usd


@pytest.mark.parametrize(
    ("fault", "max_tokens"),
    [
        (Fault("overloaded"), STREAMED),
        (Fault("server_error"), PLAIN),
        (Fault("drop"), PLAIN),
        (Fault("drop_stream"), STREAMED),
        (Fault("stream_error"), STREAMED),
        (Fault("slow", delay_s=FAULT_SLOW_S), PLAIN),
    ],
    ids=lambda value: getattr(value, "kind", str(value)),
)
async def test_a_transient_failure_is_retried(
    start_fake: StartFake, make_client: MakeClient, fault: Fault, max_tokens: int
) -> None:
    fake = start_fake(Rule([fault]))
    response = await make_client(fake).complete(writer_request(max_tokens=max_tokens))

    assert response.text.startswith("In chapter 1")
    assert [r.fault for r in fake.requests] == [fault.kind, None]


async def test_a_429_waits_as_long_as_retry_after_says(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("rate_limit", retry_after=0.3)] * 2))
    await make_client(fake).complete(writer_request())

    first, second, third = fake.requests
    assert [first.fault, second.fault, third.fault] == ["rate_limit", "rate_limit", None]
    # The client waits retry-after from the moment it has the 429, so arrivals are further apart.
    assert second.at - first.at >= 0.3
    assert third.at - second.at >= 0.3


async def test_a_bad_request_is_not_retried_and_fails_with_the_apis_message(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("bad_request")]))
    with pytest.raises(ModelCallError) as caught:
        await make_client(fake).complete(writer_request())

    assert len(fake.requests) == 1
    message = str(caught.value)
    assert "400 invalid_request_error: max_tokens: too large for this model" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value.__cause__) + repr(caught.value.__context__)


async def test_retries_stop_at_max_attempts(start_fake: StartFake, make_client: MakeClient) -> None:
    fake = start_fake(Rule([Fault("overloaded")] * 10))
    settings = RetrySettings(max_attempts=3, initial_wait_s=0.01, max_wait_s=0.02)
    with pytest.raises(ModelCallError) as caught:
        await make_client(fake, retry=settings).complete(writer_request())

    assert len(fake.requests) == 3
    assert caught.value.attempts == 3
    assert "after 3 attempts: 529 overloaded_error: Overloaded" in str(caught.value)


async def test_retries_stop_before_the_total_wait_would_pass_its_limit(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("rate_limit", retry_after=0.2)] * 10))
    settings = RetrySettings(max_attempts=10, max_total_wait_s=0.5)
    with pytest.raises(ModelCallError) as caught:
        await make_client(fake, retry=settings).complete(writer_request())

    # Waits of 0.2 s: two fit in 0.5 s, a third would not.
    assert len(fake.requests) == 3
    assert "429 rate_limit_error" in str(caught.value)


async def test_a_stream_slower_than_the_read_timeout_in_all_is_not_cut(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    # Eight events 0.15 s apart: 1.2 s in all, past a read timeout of 0.6 s that no gap reaches.
    fake = start_fake(Rule([Fault("trickle", delay_s=0.15)]))
    response = await make_client(fake, timeout_s=0.6).complete(writer_request())

    assert response.text.startswith("In chapter 1")
    assert [r.fault for r in fake.requests] == ["trickle"]
    [seen] = fake.requests
    assert seen.answered_at is not None
    assert seen.answered_at - seen.at > 0.6
