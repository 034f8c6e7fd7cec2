"""Which failed model calls are tried again, how long to wait, and when to give up.

The Anthropic client's readers of the one retry policy (``retry_policy``; the
SDK's own retries are off, ``max_retries=0``, so two policies never multiply).
Retried:

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

import anthropic
import httpx2
from tenacity import AsyncRetrying, RetryCallState

from agents.clients.rate_headers import retry_after
from agents.clients.retry_policy import StopPolicy, WaitPolicy
from agents.clients.retry_policy import retrying as policy_retrying
from agents.clients.settings import RetrySettings

__all__ = [
    "StopPolicy",
    "WaitPolicy",
    "api_message",
    "retry_reason",
    "retrying",
    "server_wait",
    "status_of",
]

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


def retrying(
    settings: RetrySettings,
    before_sleep: Callable[[RetryCallState], None],
    rng: random.Random | None = None,
) -> AsyncRetrying:
    """The policy (``retry_policy.retrying``) over the Anthropic SDK's errors."""
    return policy_retrying(settings, before_sleep, rng, reason=retry_reason, asked_wait=server_wait)
