"""The shape of the one retry policy of every model client, apart from any SDK.

A call is tried again when the client's ``reason`` reader says the failure is
worth it (429, 5xx, timeouts, dropped connections: each SDK's errors are read
by its client's own readers, ``retry`` for Anthropic's, ``openai`` for
OpenAI's). The wait is the server's ``retry-after`` when the ``asked_wait``
reader finds one, else exponential backoff with jitter; a call gives up after
``max_attempts``, or when the next wait would take its waits past
``max_total_wait_s``. Kept free of SDK imports, so a client loads only its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from agents.clients.settings import RetrySettings


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """The server's retry-after if it gave one, else exponential backoff with equal jitter."""

    settings: RetrySettings
    rng: random.Random
    asked_wait: Callable[[BaseException | None], float | None]

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
    reason: Callable[[BaseException], str | None],
    asked_wait: Callable[[BaseException | None], float | None],
) -> AsyncRetrying:
    """A tenacity loop over one call: retried when ``reason`` gives one, ``before_sleep`` told
    of every retry, and the last error re-raised when it gives up."""
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: reason(exc) is not None),
        wait=WaitPolicy(settings, rng or random.Random(), asked_wait),
        stop=StopPolicy(settings),
        before_sleep=before_sleep,
        reraise=True,
    )
