"""A client-side rate limiter shared by every model call of a run.

Three token buckets (requests, input tokens and output tokens per minute)
refill continuously, as the API's own limits do. A call takes what it needs
before it is sent: one request, its estimated input tokens, and its
``max_tokens`` of output (the API also counts output at ``max_tokens`` when a
call starts and corrects it at the end, which ``settle`` does here). Waiters
queue in order, so twenty writers slow down together instead of the fastest
starving the rest.

The limits come from the config; the API's rate-limit headers then adapt
them: a lower ``-limit`` replaces the configured one, a ``-remaining`` below
what the bucket holds lowers it (other clients of the same organization spend
it too), and an exhausted limit holds every call until its ``-reset``. A 429's
``retry-after`` pauses every call, not only the one refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

from agents.clients.rate_headers import limit_states

log = structlog.get_logger("agents.clients.rate_limiter")

SECONDS_PER_MINUTE = 60.0


@dataclass
class Bucket:
    """A token bucket of ``per_minute`` (None: no limit known yet); its level may go below 0."""

    kind: str
    per_minute: float | None
    level: float = 0.0
    stamp: float = 0.0
    blocked_until: float = 0.0
    window_s: float = SECONDS_PER_MINUTE  # the minute (benchmarks scale it down)

    def __post_init__(self) -> None:
        self.level = self.per_minute or 0.0

    def refill(self, now: float) -> None:
        """Add what the time since the last refill earned, up to a full bucket."""
        if self.per_minute is not None and now > self.stamp:
            earned = (now - self.stamp) * self.per_minute / self.window_s
            self.level = min(self.per_minute, self.level + earned)
        self.stamp = max(self.stamp, now)

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` may be taken (more than the bucket holds: once it is full)."""
        blocked = max(0.0, self.blocked_until - now)
        if self.per_minute is None:
            return blocked
        short = min(amount, self.per_minute) - self.level
        refill = max(0.0, short) * self.window_s / self.per_minute
        return max(blocked, refill)

    def observe(self, limit: int | None, remaining: int | None, reset_at: float | None) -> None:
        """Adapt to what the server reports (after ``refill``)."""
        if limit is not None and limit > 0 and (self.per_minute is None or limit < self.per_minute):
            if self.per_minute is None:
                self.level = float(limit)
            self.per_minute = float(limit)
            self.level = min(self.level, self.per_minute)
        if remaining is not None:
            self.level = min(self.level, float(remaining)) if self.per_minute else self.level
            if remaining <= 0 and reset_at is not None:
                self.blocked_until = max(self.blocked_until, reset_at)


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one call took from the buckets."""

    input_tokens: int
    output_tokens: int


@dataclass
class RateLimiter:
    """Requests and tokens per minute, shared by all callers; ``None`` limits are off."""

    requests_per_minute: float | None = None
    input_tokens_per_minute: float | None = None
    output_tokens_per_minute: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # The API's minute; a benchmark against a fake that scales time down scales it too.
    window_s: float = SECONDS_PER_MINUTE
    paused_until: float = 0.0
    waited_s: float = 0.0  # total time calls spent waiting here
    _buckets: dict[str, Bucket] = field(init=False)
    _turn: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        now = self.clock()
        self._buckets = {
            kind: Bucket(kind, limit, stamp=now, window_s=self.window_s)
            for kind, limit in (
                ("requests", self.requests_per_minute),
                ("input-tokens", self.input_tokens_per_minute),
                ("output-tokens", self.output_tokens_per_minute),
            )
        }

    def bucket(self, kind: str) -> Bucket:
        """The bucket of ``kind``: requests, input-tokens or output-tokens."""
        return self._buckets[kind]

    async def acquire(self, input_tokens: int, output_tokens: int) -> Reservation:
        """Wait for room for one request of this size, then take it; callers queue in order."""
        needs = {"requests": 1.0, "input-tokens": input_tokens, "output-tokens": output_tokens}
        async with self._turn:
            while True:
                now = self.clock()
                waits = {"pause": self.paused_until - now}
                for kind, bucket in self._buckets.items():
                    bucket.refill(now)
                    waits[kind] = bucket.wait_for(needs[kind], now)
                reason = max(waits, key=lambda kind: waits[kind])
                if waits[reason] <= 0:
                    break
                log.info("rate_limit_wait", seconds=round(waits[reason], 3), reason=reason)
                self.waited_s += waits[reason]
                await self.sleep(waits[reason])
            for kind, bucket in self._buckets.items():
                bucket.level -= needs[kind]
        return Reservation(input_tokens, output_tokens)

    def settle(self, reservation: Reservation, input_tokens: int, output_tokens: int) -> None:
        """Correct a reservation with what the call really used (0, 0 when it failed)."""
        self._buckets["input-tokens"].level += reservation.input_tokens - input_tokens
        self._buckets["output-tokens"].level += reservation.output_tokens - output_tokens

    def pause(self, seconds: float) -> None:
        """No call starts for ``seconds`` (the server said retry-after)."""
        until = self.clock() + seconds
        if until > self.paused_until:
            self.paused_until = until
            log.info("rate_limit_pause", seconds=round(seconds, 3))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt the buckets to the rate-limit headers of a response (``rate_headers``)."""
        now = self.clock()
        for state in limit_states(headers, now):
            bucket = self._buckets[state.kind]
            bucket.refill(now)
            bucket.observe(state.limit, state.remaining, state.reset_at)
