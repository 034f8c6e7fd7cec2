"""Which failed model calls are tried again, how long to wait, and when to give up.

The one retry policy of the Anthropic client (the SDK's own retries are off,
``max_retries=0``, so two policies never multiply). Retried:

- 429 rate limited, 529 overloaded, 500-504 server errors, whether the status
  came on the response or as an ``error`` event in the middle of a stream
  (which the SDK reports with the stream's status, 200, and the error's type);
- connection errors and timeouts, before the reply or in the middle of a
  stream (the SDK lets those through as its HTTP library's own errors).

Not retried: every other 4xx (a bad request, a wrong key, a model that does
not exist): the chapter fails with the API's message. The wait is the
server's ``retry-after`` when it gives one, else exponential backoff with
jitter; a call gives up after ``max_attempts``, or when the next wait would
take its waits past ``max_total_wait_s``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import anthropic
import httpx2
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from agents.clients.rate_headers import retry_after
from agents.clients.settings import RetrySettings

RETRY_STATUSES = frozenset({429, 500, 501, 502, 503, 504, 529})
# An ``error`` event inside a stream arrives after a 200: its type says what it is.
STREAM_ERROR_STATUS = {"rate_limit_error": 429, "overloaded_error": 529, "api_error": 500}


def status_of(exc: anthropic.APIStatusError) -> int:
    """The HTTP status a failure stands for (a stream's error event has the stream's 200)."""
    if exc.status_code < 400 and exc.type is not None:
        return STREAM_ERROR_STATUS.get(exc.type, exc.status_code)
    return exc.status_code


def retry_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is worth another try (for the log), or None if it is not."""
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return "connection error"
    if isinstance(exc, anthropic.APIStatusError):
        status = status_of(exc)
        if status in RETRY_STATUSES:
            return f"{status} {exc.type or 'error'}"
    return None


def api_message(exc: BaseException) -> str:
    """What went wrong, in the API's words: its status, error type and message; never headers."""
    if isinstance(exc, anthropic.APIStatusError):
        detail = exc.api_message or exc.message
        return f"{status_of(exc)} {exc.type or 'error'}: {detail}"
    if isinstance(exc, anthropic.APIError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def server_wait(exc: BaseException | None) -> float | None:
    """The wait the server asked for in the failed response's headers, if it did."""
    if isinstance(exc, anthropic.APIStatusError):
        return retry_after(exc.response.headers)
    return None


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """The server's retry-after if it gave one, else exponential backoff with equal jitter."""

    settings: RetrySettings
    rng: random.Random
    asked_wait: Callable[[BaseException | None], float | None] = server_wait

    def __call__(self, state: RetryCallState) -> float:
        asked = self.asked_wait(state.outcome.exception() if state.outcome else None)
        if asked is not None:
            return asked
        exponent = max(0, state.attempt_number - 1)
        base = min(self.settings.max_wait_s, self.settings.initial_wait_s * 2.0**exponent)
        # Half fixed, half random: callers that failed together spread out, none retries at once.
        return base / 2 + self.rng.uniform(0, base / 2)


@dataclass(frozen=True, slots=True)
class StopPolicy:
    """Give up after ``max_attempts``, or before a wait that would pass ``max_total_wait_s``."""

    settings: RetrySettings

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.settings.max_attempts:
            return True
        return state.idle_for + state.upcoming_sleep > self.settings.max_total_wait_s


def retrying(
    settings: RetrySettings,
    before_sleep: Callable[[RetryCallState], None],
    rng: random.Random | None = None,
    *,
    reason: Callable[[BaseException], str | None] = retry_reason,
    asked_wait: Callable[[BaseException | None], float | None] = server_wait,
) -> AsyncRetrying:
    """A tenacity loop over one call: retried as above, ``before_sleep`` told of every retry,
    and the last error re-raised when it gives up. ``reason`` and ``asked_wait`` read another
    SDK's errors (the OpenAI client's): the policy's shape is the same for every provider."""
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: reason(exc) is not None),
        wait=WaitPolicy(settings, rng or random.Random(), asked_wait),
        stop=StopPolicy(settings),
        before_sleep=before_sleep,
        reraise=True,
    )
