"""OpenAIClient: the ``LLMClient`` of any OpenAI-compatible Chat Completions server, on the
official ``openai`` SDK (DeepSeek, Qwen on DashScope, GLM, Kimi, OpenRouter, Ollama, vLLM,
llama.cpp's server, LM Studio, OpenAI itself).

It behaves as the Anthropic client does: one instance serves every agent of a
run, with at most ``concurrency`` calls in flight and the shared rate limiter
(adapted to ``x-ratelimit-*`` headers where the server sends them); each call
is retried by the same tenacity policy (``agents.clients.retry``: 429, 5xx,
timeouts and dropped connections, the server's ``retry-after`` honoured; no
other 4xx; the SDK's own retries are off); a call that fails for good raises
ModelCallError with the server's message. Usage comes back with cached prompt
tokens as cache reads, and priced. Structured outputs are a forced function
call or JSON mode (``openai_wire``).

``base_url`` is used exactly as given: the SDK appends ``/chat/completions``
to it, so DeepSeek's is ``https://api.deepseek.com`` and Ollama's
``http://localhost:11434/v1``. The API key is given to the SDK and kept nowhere
else: not in this object's repr, not in a log field, and it is cut out of any
error message a server might echo it in. A local server may be called without
a key.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
import structlog
from tenacity import RetryCallState

from agents.clients.base import LLMRequest, LLMResponse
from agents.clients.openai_wire import (
    StructuredMode,
    chat_params,
    collect_stream,
    reasoning_tokens,
    response_of,
    usage_of,
)
from agents.clients.pricing import PriceTable
from agents.clients.rate_headers import retry_after
from agents.clients.rate_limiter import RateLimiter
from agents.clients.retry_policy import retrying
from agents.clients.settings import RetrySettings
from agents.errors import AgentError, ModelCallError
from agents.schemas import WritingBrief
from agents.tokens import estimate_tokens

log = structlog.get_logger("agents.openai")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


class GarbledReply(AgentError):
    """A 200 whose body is no JSON (cut off by a proxy, or a server's bug): tried again."""


# Failures that end a call: the SDK's errors, its HTTP library's, and a garbled body.
CALL_FAILURES = (openai.APIError, httpx2.TransportError, GarbledReply)
# What the SDK is given for a local server called without a key (it insists on one;
# Ollama, vLLM, llama.cpp and LM Studio ignore it).
NO_KEY = "no-key"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the SDK's, when none is given
REDACTED = "[api key]"


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """How the client calls the server (the ``llm`` section of the config)."""

    base_url: str | None = None
    timeout_s: float = 600.0
    concurrency: int = 20
    structured: StructuredMode = "tools"
    stream: bool = False  # stream calls whose max_tokens is at least stream_from_tokens
    stream_from_tokens: int = 4096
    retry: RetrySettings = field(default_factory=RetrySettings)


def retry_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is worth another try (for the log), or None if it is not."""
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return "connection error"
    if isinstance(exc, GarbledReply):
        return "garbled reply"
    if isinstance(exc, openai.APIStatusError) and exc.status_code in RETRY_STATUSES:
        return f"{exc.status_code} {exc.type or exc.code or 'error'}"
    return None


def server_wait(exc: BaseException | None) -> float | None:
    """The wait the server asked for in the failed response's headers, if it did."""
    if isinstance(exc, openai.APIStatusError):
        return retry_after(exc.response.headers)
    return None


def api_message(exc: BaseException) -> str:
    """What went wrong, in the server's words: status, error type and message; never headers."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("message") if isinstance(body.get("message"), str) else exc.message
        return f"{exc.status_code} {exc.type or exc.code or 'error'}: {detail}"
    if isinstance(exc, openai.APIError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class OpenAIClient:
    """Chat Completions calls with shared limits, retries, and priced usage."""

    def __init__(
        self,
        *,
        api_key: str | None,
        settings: OpenAISettings,
        prices: PriceTable,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.prices = prices
        self.limiter = limiter or RateLimiter()
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._secret = api_key or None
        self._sdk = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY,
            base_url=settings.base_url,
            max_retries=0,  # one retry policy: ours
            timeout=openai.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)),
        )

    def __repr__(self) -> str:
        return f"OpenAIClient(base_url={self.settings.base_url!r})"

    @property
    def provider(self) -> str:
        """What the run's metrics call it: ``openai:`` and the server (host and port)."""
        return f"openai:{urlsplit(self.settings.base_url or DEFAULT_BASE_URL).netloc}"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request``, retrying what is worth retrying; ModelCallError when it fails."""
        attempts = retrying(
            self.settings.retry,
            lambda state: self._log_retry(request, state),
            self._rng,
            reason=retry_reason,
            asked_wait=server_wait,
        )
        try:
            response: LLMResponse = await attempts(self._attempt, request)
        except CALL_FAILURES as exc:
            tried = int(attempts.statistics.get("attempt_number", 1))
            raise ModelCallError(request.agent, self._scrub(api_message(exc)), tried) from None
        return response

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._sdk.close()

    async def _attempt(self, request: LLMRequest) -> LLMResponse:
        async with self._slots:
            reserved = await self.limiter.acquire(
                estimate_tokens(request.prompt_text()), request.max_tokens
            )
            started = time.perf_counter()
            try:
                completion, headers = await self._send(request)
            except BaseException as exc:
                self.limiter.settle(reserved, 0, 0)
                self._observe_failure(exc)
                raise
        self.limiter.observe(headers)
        usage = usage_of(completion, time.perf_counter() - started)
        self.limiter.settle(reserved, usage.input_tokens, usage.output_tokens)
        usage = usage.model_copy(update={"cost_usd": self.prices.cost(request.model, usage)})
        thought = reasoning_tokens(completion)
        if thought:
            log.debug("model_reasoning", agent=request.agent, reasoning_tokens=thought)
        return response_of(request, completion, usage, self.settings.structured)

    async def _send(self, request: LLMRequest) -> tuple[Any, Mapping[str, str]]:
        params = chat_params(request, self.settings.structured)
        if self.settings.stream and request.max_tokens >= self.settings.stream_from_tokens:
            return await self._stream(request, params)
        raw = await self._sdk.chat.completions.with_raw_response.create(**params)
        try:
            return raw.parse(), raw.headers
        except ValueError as exc:  # json.JSONDecodeError: the body is no JSON
            raise GarbledReply(f"the server's reply is not JSON ({exc})") from None

    async def _stream(
        self, request: LLMRequest, params: dict[str, Any]
    ) -> tuple[Any, Mapping[str, str]]:
        """A streamed call: the read timeout is then between chunks, so a long chapter on a
        slow server is not cut. Without usage in the stream (a server that ignores
        ``stream_options``) the tokens are estimated from the text, and a warning says so."""
        stream = await self._sdk.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        try:
            completion = await collect_stream(stream, request.model)
        except ValueError as exc:  # json.JSONDecodeError: a chunk is no JSON
            raise GarbledReply(f"the server's stream is not JSON ({exc})") from None
        finally:
            await stream.close()
        if completion["usage"] is None:
            message = completion["choices"][0]["message"]
            written = message["content"] + "".join(
                call["function"].get("arguments", "") for call in message["tool_calls"]
            )
            completion["usage"] = {
                "prompt_tokens": estimate_tokens(request.prompt_text()),
                "completion_tokens": estimate_tokens(written),
            }
            log.warning("stream_without_usage", agent=request.agent, model=request.model)
        return completion, stream.response.headers

    def _observe_failure(self, exc: BaseException) -> None:
        """Learn from a refused call: its rate-limit headers, and a retry-after for everyone."""
        if not isinstance(exc, openai.APIStatusError):
            return
        self.limiter.observe(exc.response.headers)
        wait = server_wait(exc)
        if wait is not None:
            self.limiter.pause(wait)

    def _scrub(self, text: str) -> str:
        """``text`` without the API key (a server may echo a wrong key in its message)."""
        return text.replace(self._secret, REDACTED) if self._secret else text

    def _log_retry(self, request: LLMRequest, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        brief = request.brief
        log.warning(
            "model_call_retry",
            agent=request.agent,
            chapter=brief.plan.number if isinstance(brief, WritingBrief) else None,
            attempt=state.attempt_number,
            reason=retry_reason(exc) if exc else None,
            wait_s=round(state.upcoming_sleep, 3),
            retry_after=server_wait(exc),
            error=self._scrub(api_message(exc)) if exc else None,
        )
