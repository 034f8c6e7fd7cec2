"""What the Messages API's response headers say about rate limits and when to come back.

Every response (a 429 included) carries ``anthropic-ratelimit-<kind>-limit``,
``-remaining`` and ``-reset`` (an RFC 3339 time) for ``requests``,
``input-tokens`` and ``output-tokens``; a 429 or 529 may carry
``retry-after`` (seconds; ``retry-after-ms`` is honoured too, as the SDK does).
OpenAI and the servers that copy it (DeepSeek sends none; OpenRouter, Kimi and
others some) send ``x-ratelimit-limit-<kind>``, ``x-ratelimit-remaining-<kind>``
and ``x-ratelimit-reset-<kind>`` (a duration: ``1s``, ``6m0s``, ``20ms``) for
``requests`` and ``tokens``; their one token limit counts a call's prompt and its
``max_tokens`` together, and is applied here to the input-tokens bucket (the
output bucket stays as configured).
Times become ``time.monotonic()`` values here, so the clock of the machine
and the server's may differ without harm beyond the lag of one reply.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

KINDS = ("requests", "input-tokens", "output-tokens")
# x-ratelimit-*-<kind> -> the limiter's bucket
OPENAI_KINDS = {"requests": "requests", "tokens": "input-tokens"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class LimitState:
    """One kind of limit as the server last reported it."""

    kind: str
    limit: int | None
    remaining: int | None
    reset_at: float | None  # monotonic time at which the allowance is whole again


def limit_states(headers: Mapping[str, str], now: float | None = None) -> list[LimitState]:
    """The limits the headers report (kinds with no header at all are left out)."""
    mono, wall = (time.monotonic() if now is None else now), time.time()
    states = []
    for kind in KINDS:
        prefix = f"anthropic-ratelimit-{kind}-"
        limit = _int(headers.get(prefix + "limit"))
        remaining = _int(headers.get(prefix + "remaining"))
        reset = _timestamp(headers.get(prefix + "reset"))
        if limit is None and remaining is None and reset is None:
            continue
        reset_at = None if reset is None else mono + max(0.0, reset - wall)
        states.append(LimitState(kind, limit, remaining, reset_at))
    for kind, bucket in OPENAI_KINDS.items():
        limit = _int(headers.get(f"x-ratelimit-limit-{kind}"))
        remaining = _int(headers.get(f"x-ratelimit-remaining-{kind}"))
        after = duration_s(headers.get(f"x-ratelimit-reset-{kind}"))
        if limit is None and remaining is None and after is None:
            continue
        states.append(LimitState(bucket, limit, remaining, None if after is None else mono + after))
    return states


def duration_s(value: str | None) -> float | None:
    """Seconds of an ``x-ratelimit-reset-*`` value: ``6m0s``, ``1.5s``, ``20ms``, or a number."""
    if not value:
        return None
    plain = _float(value)
    if plain is not None:
        return max(0.0, plain)
    parts = _DURATION.findall(value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, ``retry-after``), if it asks."""
    millis = _float(headers.get("retry-after-ms"))
    if millis is not None and millis >= 0:
        return millis / 1000.0
    value = headers.get("retry-after")
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
