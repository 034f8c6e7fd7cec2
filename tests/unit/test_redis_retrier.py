"""The Redis link's retry policy, without a server: what is retried, how long it waits,
when it gives up, and what it says then. (tests/redis has the same against real servers.)

The clock is the test's: it moves only when the retrier sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import pytest
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from state.backends import redis_link
from state.backends.redis_link import Outage, Retrier
from state.errors import StateOpenError, StateWriteError, StoreUnreachableError

LOCATION = "redis://127.0.0.1:6390/0?namespace=t"
REFUSED = "Error 111 connecting to 127.0.0.1:6390. Connection refused."


def refused(times: int = 1) -> list[BaseException]:
    return [RedisConnectionError(REFUSED) for _ in range(times)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def pause(self, seconds: float) -> None:
        if seconds:  # a wait of 0 is none
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(redis_link, "time", fake)
    monkeypatch.setattr(redis_link, "_pause", fake.pause)
    return fake


class Script:
    """A call that raises the given errors in turn, then returns "ok"; counts everything."""

    def __init__(self, failures: Iterable[BaseException], forever: bool = False) -> None:
        self.failures = list(failures)
        self.forever = forever
        self.calls = 0
        self.dropped = 0

    async def call(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures[0] if self.forever else self.failures.pop(0)
        return "ok"

    async def drop(self) -> None:
        self.dropped += 1

    def run(self, retrier: Retrier) -> Awaitable[str]:
        return retrier.run(self.call, self.drop)


def failing(exc: BaseException) -> Script:
    return Script([exc], forever=True)


async def test_a_call_that_works_is_made_once(clock: Clock) -> None:
    script = Script([])
    assert await script.run(Retrier(LOCATION, 10.0)) == "ok"
    assert (script.calls, script.dropped, clock.sleeps) == (1, 0, [])


async def test_waits_double_up_to_a_second(clock: Clock) -> None:
    script = Script(refused(7))
    assert await script.run(Retrier(LOCATION, 30.0)) == "ok"
    assert clock.sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert (script.calls, script.dropped) == (8, 7)  # a new connection after each failure


async def test_gives_up_before_a_wait_past_the_budget(clock: Clock) -> None:
    outage = Outage()
    script = failing(*refused())
    with pytest.raises(StoreUnreachableError) as caught:
        await script.run(Retrier(LOCATION, 1.0, outage))
    # 0.05 + 0.1 + 0.2 + 0.4 = 0.75 waited; the next wait, 0.8, would pass 1.0
    assert clock.sleeps == [0.05, 0.1, 0.2, 0.4]
    error = caught.value
    assert (error.location, error.tries, error.waited_s) == (LOCATION, 5, 0.75)
    assert error.reason == REFUSED.rstrip(".")
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert script.dropped == 5
    assert outage.declared


async def test_a_budget_of_nothing_is_one_try(clock: Clock) -> None:
    with pytest.raises(StoreUnreachableError) as caught:
        await failing(*refused()).run(Retrier(LOCATION, 0.0))
    assert (caught.value.tries, caught.value.waited_s, clock.sleeps) == (1, 0.0, [])


async def test_after_giving_up_the_next_operations_try_twice(clock: Clock) -> None:
    retrier = Retrier(LOCATION, 1.0)
    with pytest.raises(StoreUnreachableError):
        await failing(*refused()).run(retrier)
    clock.sleeps.clear()
    with pytest.raises(StoreUnreachableError) as caught:
        await failing(*refused()).run(retrier)
    assert (caught.value.tries, clock.sleeps) == (2, [0.05])
    # Back: the outage is over, and the next one gets the whole budget again.
    assert await Script([]).run(retrier) == "ok"
    assert not retrier.outage.declared
    with pytest.raises(StoreUnreachableError) as again:
        await failing(*refused()).run(retrier)
    assert again.value.tries == 5


async def test_the_outage_is_told_once_and_its_end_too(clock: Clock) -> None:
    retrier = Retrier(LOCATION, 30.0)
    with capture_logs() as logs:
        assert await Script(refused(4)).run(retrier) == "ok"
    levels = [(entry["event"], entry["log_level"]) for entry in logs]
    assert levels == [
        ("state.redis.retry", "debug"),  # one failure alone may be a stale connection
        ("state.redis.retry", "warning"),
        ("state.redis.retry", "debug"),
        ("state.redis.retry", "debug"),
        ("state.redis.back", "info"),
    ]
    assert logs[-1]["after_tries"] == 5
    assert not retrier.outage.reported


async def test_noscript_loads_the_scripts_again_at_once_three_times(clock: Clock) -> None:
    script = Script([NoScriptError("NOSCRIPT No matching script")] * 3)
    assert await script.run(Retrier(LOCATION, 30.0)) == "ok"
    assert (script.calls, script.dropped, clock.now) == (4, 3, 0.0)

    script = failing(NoScriptError("NOSCRIPT No matching script"))
    with pytest.raises(NoScriptError):
        await script.run(Retrier(LOCATION, 30.0))
    assert (script.calls, script.dropped, clock.now) == (4, 4, 0.0)


async def test_noscript_does_not_lengthen_the_backoff(clock: Clock) -> None:
    noscript = NoScriptError("NOSCRIPT No matching script")
    assert await Script([*refused(), noscript, *refused()]).run(Retrier(LOCATION, 30.0)) == "ok"
    assert clock.sleeps == [0.05, 0.1]


async def test_refused_credentials_are_not_retried(clock: Clock) -> None:
    script = failing(AuthenticationError("invalid username-password pair"))
    with pytest.raises(StateOpenError, match="refused the credentials") as caught:
        await script.run(Retrier(LOCATION, 30.0))
    assert caught.value.__suppress_context__
    assert (script.calls, script.dropped) == (1, 0)
    # nor after a retried failure
    script = Script([*refused(), AuthenticationError("invalid username-password pair")])
    with pytest.raises(StateOpenError, match="refused the credentials"):
        await script.run(Retrier(LOCATION, 30.0))
    assert (script.calls, script.dropped) == (2, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: StateWriteError(LOCATION, OSError(28, "No space left on device")),
        lambda: ResponseError("WRONGTYPE Operation against a key holding the wrong kind"),
        lambda: ValueError("a bug"),
        asyncio.CancelledError,
    ],
    ids=["ours", "error-reply", "bug", "cancelled"],
)
async def test_other_failures_pass_through_untouched(
    clock: Clock, make: Callable[[], BaseException]
) -> None:
    exc = make()
    for script in (failing(exc), Script([*refused(), exc])):
        with pytest.raises(type(exc)) as caught:
            await script.run(Retrier(LOCATION, 30.0))
        assert caught.value is exc
        assert script.dropped == script.calls - 1  # only after the connection failure
