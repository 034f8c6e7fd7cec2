"""AnthropicClient: the ``LLMClient`` of the Messages API, on the official SDK.

One instance serves every agent of a run, so its limits are shared: at most
``concurrency`` calls in flight, and the rate limiter's requests and tokens
per minute (adapted to the API's rate-limit headers). Each call is retried by
one tenacity policy (``agents.clients.retry``; the SDK's own retries are off);
a call that fails for good raises ModelCallError with the API's message.
Calls with a large ``max_tokens`` are streamed, so a chapter that takes
minutes is never cut by a read timeout (the timeout is then between events).
Usage comes back with cache writes and reads apart, and priced. Prompt caching
follows the API's rules (``agents.clients.caching``): a prefix under its model's
minimum is sent unmarked, and calls sharing a prefix wait until the first one's
response has begun (a stream's first event, or the reply), so one writes the
cache and the rest read it.

The API key is given to the SDK and kept nowhere else: not in this object's
repr, not in a log field, not in an error message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import structlog
from anthropic.types import Message as APIMessage
from tenacity import RetryCallState

from agents.clients.anthropic_wire import message_params, response_of, usage_of
from agents.clients.base import LLMRequest, LLMResponse
from agents.clients.caching import CacheTTL, CacheTurn, PromptCaching, load_cache_minimums
from agents.clients.pricing import PriceTable
from agents.clients.rate_limiter import RateLimiter
from agents.clients.retry import (
    api_message,
    retry_reason,
    retrying,
    server_wait,
)
from agents.clients.settings import RetrySettings
from agents.errors import ModelCallError
from agents.schemas import WritingBrief
from agents.tokens import estimate_tokens

log = structlog.get_logger("agents.anthropic")

# Failures that end a call: the SDK's errors, and its HTTP library's in a stream.
CALL_FAILURES = (anthropic.APIError, httpx2.TransportError)


@dataclass(frozen=True, slots=True)
class AnthropicSettings:
    """How the client calls the API (the ``llm`` section of the config)."""

    base_url: str | None = None
    timeout_s: float = 600.0
    stream_from_tokens: int = 4096
    concurrency: int = 20
    retry: RetrySettings = field(default_factory=RetrySettings)
    cache_ttl: CacheTTL = "5m"


class AnthropicClient:
    """Messages API calls with shared limits, retries, prompt caching, and priced usage."""

    provider = "anthropic"  # what the run's metrics call it

    def __init__(
        self,
        *,
        api_key: str,
        settings: AnthropicSettings,
        prices: PriceTable,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
        caching: PromptCaching | None = None,
    ) -> None:
        self.settings = settings
        self.prices = prices
        self.limiter = limiter or RateLimiter()
        self.caching = caching or PromptCaching(load_cache_minimums(), settings.cache_ttl)
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._sdk = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=settings.base_url,
            max_retries=0,  # one retry policy: ours
            timeout=anthropic.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)),
        )

    def __repr__(self) -> str:
        return f"AnthropicClient(base_url={self.settings.base_url!r})"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request``, retrying what is worth retrying; ModelCallError when it fails."""
        attempts = retrying(
            self.settings.retry, lambda state: _log_retry(request, state), self._rng
        )
        try:
            response: LLMResponse = await attempts(self._attempt, request)
        except CALL_FAILURES as exc:
            tried = int(attempts.statistics.get("attempt_number", 1))
            raise ModelCallError(request.agent, api_message(exc), tried) from None
        return response

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._sdk.close()

    async def _attempt(self, request: LLMRequest) -> LLMResponse:
        # The cache's turn first, then a slot: a call waiting for another's cache entry
        # holds neither a slot nor a share of the rate limits.
        async with self.caching.turn(request) as (request, turn), self._slots:
            reserved = await self.limiter.acquire(_limited_input(request, turn), request.max_tokens)
            started = time.perf_counter()
            try:
                message, headers = await self._send(request, turn)
            except BaseException as exc:
                self.limiter.settle(reserved, 0, 0)
                self._observe_failure(exc)
                raise
        self.limiter.observe(headers)
        usage = usage_of(message, time.perf_counter() - started)
        self.limiter.settle(
            reserved, usage.input_tokens + usage.cache_write_tokens, usage.output_tokens
        )
        cost = self.prices.cost(request.model, usage, self.settings.cache_ttl)
        return response_of(request, message, usage.model_copy(update={"cost_usd": cost}))

    async def _send(
        self, request: LLMRequest, turn: CacheTurn
    ) -> tuple[APIMessage, Mapping[str, str]]:
        params: dict[str, Any] = message_params(request, self.settings.cache_ttl)
        if request.max_tokens >= self.settings.stream_from_tokens:
            async with self._sdk.messages.stream(**params) as stream:
                turn.begun()  # the stream has started: its prefix is in the cache
                headers = stream.response.headers
                return await stream.get_final_message(), headers
        raw = await self._sdk.messages.with_raw_response.create(**params)
        turn.begun()
        return await raw.parse(), raw.headers

    def _observe_failure(self, exc: BaseException) -> None:
        """Learn from a refused call: its rate-limit headers, and a retry-after for everyone."""
        if not isinstance(exc, anthropic.APIStatusError):
            return
        self.limiter.observe(exc.response.headers)
        wait = server_wait(exc)
        if wait is not None:
            self.limiter.pause(wait)


def _limited_input(request: LLMRequest, turn: CacheTurn) -> int:
    """The input tokens a call counts against the input limit: cache reads do not count."""
    tokens = estimate_tokens(request.prompt_text())
    if turn.key is not None and not turn.writes:
        tokens -= turn.prefix_tokens
    return max(0, tokens)


def _log_retry(request: LLMRequest, state: RetryCallState) -> None:
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
        error=api_message(exc) if exc else None,
    )
