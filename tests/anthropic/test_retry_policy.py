"""Which failures are retried, and how long the waits are (real SDK errors, no server)."""

from __future__ import annotations

import random

import anthropic
import httpx2
import pytest
from tenacity import RetryCallState

from agents.clients.retry import (
    StopPolicy,
    WaitPolicy,
    api_message,
    retry_reason,
    server_wait,
)
from agents.clients.settings import RetrySettings

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/messages")


def status_error(
    status: int, error_type: str, headers: dict[str, str] | None = None
) -> anthropic.APIStatusError:
    """The error the SDK raises for a reply of ``status`` (built by the SDK's own factory)."""
    body = {"type": "error", "error": {"type": error_type, "message": f"it is {error_type}"}}
    response = httpx2.Response(status, headers=headers or {}, json=body, request=REQUEST)
    client = anthropic.Anthropic(api_key="k", base_url="http://127.0.0.1")
    try:
        return client._make_status_error_from_response(response)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("status", "error_type", "reason"),
    [
        (429, "rate_limit_error", "429 rate_limit_error"),
        (529, "overloaded_error", "529 overloaded_error"),
        (500, "api_error", "500 api_error"),
        (502, "api_error", "502 api_error"),
        (503, "api_error", "503 api_error"),
        (504, "api_error", "504 api_error"),
        (200, "overloaded_error", "529 overloaded_error"),  # an error event inside a stream
        (400, "invalid_request_error", None),
        (401, "authentication_error", None),
        (403, "permission_error", None),
        (404, "not_found_error", None),
        (413, "request_too_large", None),
    ],
)
def test_what_is_retried(status: int, error_type: str, reason: str | None) -> None:
    assert retry_reason(status_error(status, error_type)) == reason


def test_connection_errors_and_timeouts_are_retried() -> None:
    assert retry_reason(anthropic.APIConnectionError(request=REQUEST)) == "connection error"
    assert retry_reason(anthropic.APITimeoutError(REQUEST)) == "timeout"
    assert retry_reason(httpx2.RemoteProtocolError("peer closed")) == "connection error"
    assert retry_reason(httpx2.ReadTimeout("slow")) == "timeout"
    assert retry_reason(ValueError("a bug")) is None


def test_the_message_is_the_apis() -> None:
    error = status_error(400, "invalid_request_error")
    assert api_message(error) == "400 invalid_request_error: it is invalid_request_error"


def state_after(exc: BaseException, attempt: int, idle: float = 0.0) -> RetryCallState:
    """The tenacity state of a call whose ``attempt`` failed with ``exc``."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.idle_for = idle
    state.set_exception((type(exc), exc, None))
    return state


def test_retry_after_is_honoured_over_backoff() -> None:
    wait = WaitPolicy(RetrySettings(initial_wait_s=10), random.Random(1), server_wait)
    error = status_error(429, "rate_limit_error", {"retry-after": "2.5"})
    assert wait(state_after(error, attempt=1)) == 2.5
    millis = status_error(529, "overloaded_error", {"retry-after-ms": "750"})
    assert wait(state_after(millis, attempt=3)) == 0.75


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    settings = RetrySettings(initial_wait_s=1, max_wait_s=8)
    wait = WaitPolicy(settings, random.Random(7), server_wait)
    error = status_error(529, "overloaded_error")
    for attempt, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        waits = [wait(state_after(error, attempt)) for _ in range(50)]
        assert all(base / 2 <= w <= base for w in waits), (attempt, waits)
        assert len(set(waits)) > 1  # jittered


def test_it_stops_at_max_attempts_or_before_the_total_wait_passes_its_limit() -> None:
    stop = StopPolicy(RetrySettings(max_attempts=4, max_total_wait_s=10))
    error = status_error(529, "overloaded_error")
    state = state_after(error, attempt=3, idle=6)
    state.upcoming_sleep = 3
    assert not stop(state)
    state.upcoming_sleep = 5
    assert stop(state)
    assert stop(state_after(error, attempt=4))
