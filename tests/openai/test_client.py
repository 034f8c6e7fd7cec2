"""The OpenAI-compatible client with the real ``openai`` SDK against the fake server:
the wire (paths, function calls, JSON mode), usage and prices, retries, and the key."""

from __future__ import annotations

import json

import pytest

from agents.clients.base import LLMRequest, Message, SystemBlock, Usage
from agents.clients.openai_wire import response_of
from agents.clients.pricing import load_prices
from agents.clients.rate_limiter import RateLimiter
from agents.clients.settings import RetrySettings
from agents.errors import ModelCallError, OutputValidationError
from agents.schemas import Outline
from tests.fake_openai import Fault, Rule
from tests.openai.conftest import API_KEY, MODEL, SECRET, MakeClient, StartFake

PLAN = 'Plan "The Ledger" in exactly 3 chapters of about 200 words each.'
BIBLE = "# Story bible\n\n- **Mara Quell** (protagonist): a clerk\n"


def outline_request(model: str = MODEL) -> LLMRequest:
    return LLMRequest(
        agent="planner",
        model=model,
        system=(SystemBlock("You plan novels."), SystemBlock(BIBLE, cache=True)),
        messages=(Message("user", PLAN),),
        max_tokens=2000,
        output_model=Outline,
    )


async def test_a_function_call_is_forced_and_its_arguments_are_the_reply(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    response = await make_client(fake).complete(outline_request())

    outline = response.output(Outline)
    assert [c.number for c in outline.chapters] == [1, 2, 3]
    [seen] = fake.requests
    assert seen.path == "/v1/chat/completions"  # under the base URL, as given
    assert seen.body["tool_choice"] == {"type": "function", "function": {"name": "outline"}}
    [tool] = seen.body["tools"]
    assert tool["function"]["parameters"] == Outline.model_json_schema()
    system, user = seen.body["messages"]
    assert system["role"] == "system"
    assert system["content"].endswith(BIBLE)
    assert user == {"role": "user", "content": PLAN}
    assert seen.body["max_tokens"] == 2000
    assert seen.api_key == API_KEY


async def test_a_base_url_without_a_path_is_used_as_given(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(prefix="")  # DeepSeek's base URL has no /v1
    await make_client(fake).complete(outline_request())
    assert [r.path for r in fake.requests] == ["/chat/completions"]


async def test_json_mode_puts_the_schema_in_the_prompt_and_reads_a_fenced_reply(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("fenced")], agent="planner"))
    response = await make_client(fake, structured="json").complete(outline_request())

    assert len(response.output(Outline).chapters) == 3  # fence and trailing comma read past
    [seen] = fake.requests
    assert seen.fault == "fenced"
    assert seen.body["response_format"] == {"type": "json_object"}
    assert "tools" not in seen.body
    assert "tool_choice" not in seen.body
    assert (
        json.dumps(Outline.model_json_schema(), ensure_ascii=False)
        in (seen.body["messages"][0]["content"])
    )


async def test_a_malformed_reply_is_passed_on_for_validation_to_explain(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("malformed")], agent="planner"))
    response = await make_client(fake).complete(outline_request())
    with pytest.raises(OutputValidationError) as raised:
        response.output(Outline, "planner")
    assert any("Invalid JSON" in problem for problem in raised.value.problems)


async def test_reasoning_content_is_never_the_reply_and_its_tokens_are_counted(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    response = await make_client(fake).complete(outline_request("deepseek-reasoner"))

    assert response.output(Outline).title == "The Ledger"  # not the decoy in the reasoning
    [seen] = fake.requests
    assert seen.usage is not None
    assert seen.usage.reasoning_tokens > 0
    assert response.usage.output_tokens == seen.usage.completion_tokens  # reasoning included


@pytest.mark.parametrize("model", ["deepseek-chat", "qwen-plus"])
async def test_cached_prompt_tokens_are_cache_reads_and_priced(
    start_fake: StartFake, make_client: MakeClient, model: str
) -> None:
    fake = start_fake()
    client = make_client(fake)
    first = await client.complete(outline_request(model))
    second = await client.complete(outline_request(model))

    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens > 0  # DeepSeek's field or OpenAI's, either way
    counted = fake.requests[1].usage
    assert counted is not None
    assert second.usage.input_tokens + second.usage.cache_read_tokens == counted.prompt_tokens
    assert second.usage.cost_usd == pytest.approx(load_prices().require(model).cost(second.usage))
    assert second.usage.cost_usd < first.usage.cost_usd


async def test_429_and_500_are_retried_and_retry_after_is_honoured(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(
        Rule(
            [Fault("rate_limit", retry_after=0.3), Fault("server_error"), Fault("drop")],
            agent="planner",
        )
    )
    limiter = RateLimiter()
    response = await make_client(fake, limiter=limiter).complete(outline_request())

    assert len(response.output(Outline).chapters) == 3
    assert [r.fault for r in fake.requests] == ["rate_limit", "server_error", "drop", None]
    first, second = fake.requests[0].at, fake.requests[1].at
    assert second - first >= 0.3  # the server's retry-after, not the 0.02 s backoff
    assert limiter.bucket("requests").per_minute == 4000  # learned from x-ratelimit-*


async def test_a_400_is_not_retried_and_fails_with_the_servers_message(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("bad_request")], agent="planner"))
    with pytest.raises(ModelCallError) as raised:
        await make_client(fake).complete(outline_request())

    assert len(fake.requests) == 1
    assert "400 invalid_request_error: max_tokens is too large for this model" in str(raised.value)


async def test_a_key_the_server_echoes_is_cut_from_the_error(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("auth")], agent="planner"))
    with pytest.raises(ModelCallError) as raised:
        await make_client(fake).complete(outline_request())

    assert fake.requests[0].api_key == API_KEY
    assert "401 invalid_api_key: Incorrect API key provided: [api key]" in str(raised.value)
    assert SECRET not in str(raised.value) + repr(raised.value)


async def test_a_local_server_is_called_without_a_key(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    client = make_client(fake, api_key=None)
    response = await client.complete(outline_request("qwen2.5:7b"))
    assert response.output(Outline).chapters
    assert SECRET not in repr(client)


async def test_a_text_request_gets_the_content(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake()
    request = LLMRequest("editor", MODEL, (), (Message("user", "Hello"),), max_tokens=50)
    response = await make_client(fake).complete(request)
    assert response.text == "A reply in words."
    assert fake.requests[0].mode == "text"
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": "Hello"}]


async def test_a_read_timeout_is_retried(start_fake: StartFake, make_client: MakeClient) -> None:
    fake = start_fake(Rule([Fault("slow", delay_s=1.5)], agent="planner"))
    response = await make_client(fake, timeout_s=0.5).complete(outline_request())

    assert response.output(Outline).chapters
    assert [r.fault for r in fake.requests] == ["slow", None]


def test_function_arguments_sent_as_an_object_are_read() -> None:
    call = {"function": {"name": "outline", "arguments": {"title": "T", "chapters": []}}}
    completion = {"model": MODEL, "choices": [{"message": {"content": None, "tool_calls": [call]}}]}
    response = response_of(outline_request(), completion, Usage())
    assert json.loads(response.text) == {"title": "T", "chapters": []}


def test_a_reply_in_the_content_instead_of_a_call_is_still_read() -> None:
    completion = {"choices": [{"message": {"content": '```json\n{"findings": [],}\n```'}}]}
    request = LLMRequest("editor", MODEL, (), (Message("user", "Check"),), output_model=Outline)
    assert json.loads(response_of(request, completion, Usage()).text) == {"findings": []}


@pytest.mark.parametrize("structured", ["tools", "json"])
async def test_a_long_call_is_streamed_and_put_back_together(
    start_fake: StartFake, make_client: MakeClient, structured: str
) -> None:
    fake = start_fake()
    client = make_client(fake, stream=True, stream_from_tokens=1000, structured=structured)
    response = await client.complete(outline_request("deepseek-reasoner"))

    assert response.output(Outline).title == "The Ledger"  # not the streamed reasoning's decoy
    [seen] = fake.requests
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}
    assert seen.usage is not None
    assert response.usage.output_tokens == seen.usage.completion_tokens
    assert response.usage.input_tokens == seen.usage.prompt_tokens


async def test_a_short_call_is_not_streamed(start_fake: StartFake, make_client: MakeClient) -> None:
    fake = start_fake()
    await make_client(fake, stream=True, stream_from_tokens=4096).complete(outline_request())
    assert "stream" not in fake.requests[0].body


async def test_a_stream_cut_off_is_retried(start_fake: StartFake, make_client: MakeClient) -> None:
    fake = start_fake(Rule([Fault("drop_stream")], agent="planner"))
    client = make_client(fake, stream=True, stream_from_tokens=1000)
    response = await client.complete(outline_request())

    assert response.output(Outline).chapters
    assert [r.fault for r in fake.requests] == ["drop_stream", None]


async def test_a_reply_body_that_is_no_json_is_retried(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("garbage")], agent="planner"))
    response = await make_client(fake).complete(outline_request())

    assert response.output(Outline).chapters
    assert [r.fault for r in fake.requests] == ["garbage", None]


async def test_a_body_that_stays_no_json_fails_the_call_cleanly(
    start_fake: StartFake, make_client: MakeClient
) -> None:
    fake = start_fake(Rule([Fault("garbage")] * 3, agent="planner"))
    client = make_client(fake, retry=RetrySettings(max_attempts=3, initial_wait_s=0.01))
    with pytest.raises(ModelCallError) as raised:
        await client.complete(outline_request())

    assert len(fake.requests) == 3
    assert "the server's reply is not JSON" in str(raised.value)
