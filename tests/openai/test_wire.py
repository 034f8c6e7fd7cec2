"""The Chat Completions wire without a server: lenient JSON and the rate-limit headers."""

from __future__ import annotations

import json

import pytest

from agents.clients.openai_wire import lenient_json
from agents.clients.rate_headers import duration_s, limit_states


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [1, 2]}',
        '```json\n{"a": 1, "b": [1, 2],}\n```',
        'Here you are:\n```\n{"a": 1, "b": [1, 2,],\n}\n```\nDone.',
        'Sure! {"a": 1, "b": [1, 2]} Hope that helps.',
    ],
)
def test_json_is_read_leniently(text: str) -> None:
    assert json.loads(lenient_json(text)) == {"a": 1, "b": [1, 2]}


@pytest.mark.parametrize("text", ["", "no json here", '{"a": 1, "b": [1, 2'])
def test_what_is_no_json_is_left_as_it_is(text: str) -> None:
    assert lenient_json(text) == text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("2.5", 2.5)],
)
def test_reset_durations(value: str, seconds: float) -> None:
    assert duration_s(value) == pytest.approx(seconds)


def test_bad_durations_are_ignored() -> None:
    assert duration_s("soon") is None
    assert duration_s(None) is None


def test_x_ratelimit_headers_become_limit_states() -> None:
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-limit-tokens": "30000",
    }
    states = {s.kind: s for s in limit_states(headers, now=100.0)}
    assert states["requests"].limit == 500
    assert states["requests"].remaining == 0
    assert states["requests"].reset_at == pytest.approx(102.0)
    assert states["input-tokens"].limit == 30000
    assert "output-tokens" not in states
