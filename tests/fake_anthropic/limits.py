"""The fake's rate limits: requests, input tokens and output tokens per window, as the API's.

Three token buckets that refill continuously (a full bucket a ``window_s``: 60 s as
the API's minute, less to scale a benchmark down). A request is admitted when one
request, its input tokens and its ``max_tokens`` of output are left (the API
reserves output at ``max_tokens`` and settles it at the end: ``spend_output``);
cache reads are not counted as input (the API does not count them on current
models), cache writes are. A refused
request gets a 429 with ``retry-after``: the seconds until it would be admitted.
Every reply carries ``anthropic-ratelimit-*`` headers with the buckets' levels (per
window: a client against a scaled fake scales its minute the same, ``RateLimiter.window_s``).
The defaults are generous, so only tests that ask for limits meet them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

KINDS = ("requests", "input-tokens", "output-tokens")


@dataclass(frozen=True)
class Limits:
    """Per ``window_s``: requests, input tokens (cache reads not counted), output tokens."""

    requests: int = 4000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000
    window_s: float = 60.0

    def of(self, kind: str) -> int:
        return {
            "requests": self.requests,
            "input-tokens": self.input_tokens,
            "output-tokens": self.output_tokens,
        }[kind]


@dataclass
class RateLimits:
    """The buckets of one fake server (thread-safe)."""

    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.monotonic
    refused: int = 0  # 429s given
    _levels: dict[str, float] = field(init=False)
    _stamp: float = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._levels = {kind: float(self.limits.of(kind)) for kind in KINDS}
        self._stamp = self.clock()

    def admit(self, input_tokens: int, max_tokens: int = 1) -> float | None:
        """Take one request, ``input_tokens`` and ``max_tokens`` of output; None when
        admitted, else the seconds to wait."""
        with self._lock:
            self._refill()
            needs = {
                "requests": 1.0,
                "input-tokens": float(input_tokens),
                "output-tokens": float(max_tokens),
            }
            short = {
                kind: min(needs[kind], self.limits.of(kind)) - self._levels[kind] for kind in KINDS
            }
            worst = max(short.values())
            if worst > 0:
                self.refused += 1
                kind = max(short, key=lambda k: short[k])
                return worst * self.limits.window_s / self.limits.of(kind)
            self._levels["requests"] -= 1
            self._levels["input-tokens"] -= input_tokens
            self._levels["output-tokens"] -= max_tokens
            return None

    def spend_output(self, output_tokens: int, reserved: int = 0) -> None:
        """Settle a reply's output against what its request reserved."""
        with self._lock:
            self._refill()
            self._levels["output-tokens"] += reserved - output_tokens

    def headers(self) -> dict[str, str]:
        """``anthropic-ratelimit-<kind>-limit``, ``-remaining`` and ``-reset`` (when whole)."""
        with self._lock:
            self._refill()
            now = datetime.now(UTC)
            headers = {}
            for kind in KINDS:
                limit, level = self.limits.of(kind), self._levels[kind]
                to_full = (limit - level) * self.limits.window_s / limit
                reset = now + timedelta(seconds=max(to_full, self.limits.window_s / limit))
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(max(0, math.floor(level)))
                headers[f"anthropic-ratelimit-{kind}-reset"] = reset.isoformat().replace(
                    "+00:00", "Z"
                )
            return headers

    def _refill(self) -> None:
        now = self.clock()
        elapsed, self._stamp = now - self._stamp, max(self._stamp, now)
        for kind in KINDS:
            limit = self.limits.of(kind)
            self._levels[kind] = min(
                limit, self._levels[kind] + elapsed * limit / self.limits.window_s
            )
