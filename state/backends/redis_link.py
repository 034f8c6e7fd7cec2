"""Talking to Redis: connections, scripts, and which failures are retried.

Retried, with backoff, for at most ``reconnect_s`` seconds in all:

- a refused, reset or timed-out connection, and a server still loading its
  data after a restart (``BusyLoadingError``): the server may come back;
- ``NOSCRIPT``: a restarted server forgot our scripts; they are loaded again.

Once one operation has spent the whole budget, the server is taken for gone
(an ``Outage``, shared by every retrier of a store): until a call succeeds
again, the next operations try twice and fail at once. A run that lost its
server then stops after one budget, not after one budget per operation it
still had to do (giving up its write lock, its chapter leases ...).

Never retried: a wrong password or user (``AuthenticationError``), a database
number the server does not have, and every other error reply. A commit whose
reply was lost is not simply sent again: the caller first asks the server
whether it landed (see ``RedisBackend``).

The write path uses one bare redis-py ``Connection``, not the pooled client:
it is only ever used by the holder of the backend's local lock, and skipping
the pool and per-command bookkeeping saves about 20 us per round trip, which
the write lock's hand-over between processes pays on every transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import structlog
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    NoScriptError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from state.backends.redis_scripts import SCRIPTS
from state.backends.redis_url import PASSWORD_ENV, RedisAddress
from state.errors import StateError, StateOpenError, StoreUnreachableError

T = TypeVar("T")
log = structlog.get_logger("state.redis")

# Failures after which the same call may be made again on a new connection.
RETRYABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.TimeoutError,
)
CONNECT_TIMEOUT_S = 5.0
# Probe an idle connection after 5 s, every 2 s, 3 times: a vanished host is found in ~11 s.
KEEPALIVE: dict[int, int] = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)  # not every platform has all three
}
REPLY_TIMEOUT_S = 30.0  # reads outside the write path: a silent server is a lost one
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0
SHAS: dict[str, str] = {
    name: hashlib.sha1(src.encode()).hexdigest() for name, src in SCRIPTS.items()
}


def describe(exc: BaseException) -> str:
    """A one-line reason, never with a password (redis-py's messages carry none)."""
    text = str(exc).strip() or type(exc).__name__
    return text.rstrip(".")


def auth_error(location: str, exc: BaseException) -> StateOpenError:
    return StateOpenError(
        location,
        f"Redis refused the credentials ({describe(exc)}); the password comes from the URL "
        f"or ${PASSWORD_ENV}",
    )


class Outage:
    """Whether a store's server was given up on, and whether a person was told it is away."""

    def __init__(self) -> None:
        self.declared = False  # an operation spent the whole budget: try twice, then fail
        self.reported = False  # a person was told (a warning in the log)

    def over(self) -> None:
        self.declared = self.reported = False


class Retrier:
    """Runs an idempotent call again after connection failures, within a time budget.

    The retrying is tenacity's, as for the model client; ``_Retries`` is the policy. The
    first try is made directly: nearly every call succeeds at once, and tenacity's
    bookkeeping (some 50 us a call) costs more than the round trip it would wrap. A
    first failure becomes the tenacity loop's first attempt.
    """

    def __init__(self, location: str, budget_s: float, outage: Outage | None = None) -> None:
        self.location = location
        self.budget_s = budget_s
        self.outage = outage or Outage()

    async def run(
        self, call: Callable[[], Awaitable[T]], on_failure: Callable[[], Awaitable[None]]
    ) -> T:
        started = time.monotonic()
        try:
            result = await call()
        except BaseException as exc:  # noqa: BLE001 - the retry loop decides what it means
            first: BaseException | None = exc
        else:
            self._succeeded(tries=1)
            return result
        tries = 0

        async def attempt() -> T:
            nonlocal first, tries
            tries += 1
            if first is not None:
                failed, first = first, None
                raise failed
            return await call()

        retries = _Retries(self, on_failure, started)
        try:
            result = await AsyncRetrying(
                retry=retry_if_exception(is_retried),
                after=retries.failed,
                wait=retries.wait,
                stop=retries.stop,
                before_sleep=retries.before_sleep,
                retry_error_callback=retries.give_up,
                sleep=_pause,
            )(attempt)
        except AuthenticationError as exc:
            # redis-py files it under ConnectionError; no retry cures it
            raise auth_error(self.location, exc) from None
        self._succeeded(tries)
        return result

    def _succeeded(self, tries: int) -> None:
        outage = self.outage
        if outage.declared or outage.reported:
            outage.over()
            log.info("state.redis.back", url=self.location, after_tries=tries)


def is_retried(exc: BaseException) -> bool:
    """NOSCRIPT, and a connection lost, refused or timed out; never our own errors (they
    subclass OSError) nor refused credentials (redis-py's ``AuthenticationError`` is a
    ``ConnectionError``)."""
    if isinstance(exc, NoScriptError):
        return True
    return isinstance(exc, RETRYABLE) and not isinstance(exc, StateError | AuthenticationError)


async def _pause(seconds: float) -> None:
    """tenacity's sleep; a NOSCRIPT retry (0 s) goes again at once."""
    if seconds > 0:
        await asyncio.sleep(seconds)


class _Retries:
    """The retry policy of one ``Retrier.run``, and what it remembers across its tries.

    tenacity calls, after each retried failure: ``failed``, ``wait``, ``stop``, then
    ``give_up`` or ``before_sleep`` and the sleep.
    """

    def __init__(
        self, retrier: Retrier, on_failure: Callable[[], Awaitable[None]], started: float
    ) -> None:
        self.retrier = retrier
        self.on_failure = on_failure
        self.started = started
        self.delay = FIRST_BACKOFF_S  # after a connection failure; doubles up to MAX_BACKOFF_S
        self.waited = 0.0

    async def failed(self, state: RetryCallState) -> None:
        await self.on_failure()  # a new connection next; after NOSCRIPT, the scripts again

    def wait(self, state: RetryCallState) -> float:
        return 0.0 if isinstance(_error(state), NoScriptError) else self.delay

    def stop(self, state: RetryCallState) -> bool:
        tries = state.attempt_number
        if isinstance(_error(state), NoScriptError):
            return tries > 3
        self.waited = time.monotonic() - self.started
        # Declared away: one more try only, on a new connection (a pooled one may be stale
        # from before the server restarted).
        declared = self.retrier.outage.declared and tries > 1
        return declared or self.waited + state.upcoming_sleep > self.retrier.budget_s

    def give_up(self, state: RetryCallState) -> NoReturn:
        exc = _error(state)
        if isinstance(exc, NoScriptError):
            raise exc
        self.retrier.outage.declared = True
        raise StoreUnreachableError(
            self.retrier.location, describe(exc), state.attempt_number, self.waited
        ) from None

    def before_sleep(self, state: RetryCallState) -> None:
        exc = _error(state)
        if isinstance(exc, NoScriptError):
            return
        # Once per outage is enough for a person; the rest is for the debug log. A first
        # failure alone is not an outage: a pooled connection may be stale from before a
        # restart, and the next try, on a new one, works.
        outage = self.retrier.outage
        report = log.debug
        if state.attempt_number > 1 and not outage.reported:
            report, outage.reported = log.warning, True
        report(
            "state.redis.retry",
            url=self.retrier.location,
            reason=describe(exc),
            retrying_for_s=self.retrier.budget_s,
        )
        self.delay = min(self.delay * 2, MAX_BACKOFF_S)


def _error(state: RetryCallState) -> BaseException:
    """The failure tenacity is deciding about (it asks only after one)."""
    exc = state.outcome.exception() if state.outcome else None
    assert exc is not None
    return exc


def _connection_class(address: RedisAddress) -> type[Connection]:
    return SSLConnection if address.tls else Connection


class WriteLink:
    """The write path's own connection: scripts by SHA, replies read one by one."""

    def __init__(
        self, address: RedisAddress, location: str, budget_s: float, outage: Outage
    ) -> None:
        self._conn = _connection_class(address)(
            **address.connection_kwargs(),  # type: ignore[arg-type]
            socket_timeout=None,  # reads pass their own timeout; sends need none
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_keepalive=True,
            socket_keepalive_options=KEEPALIVE,
            decode_responses=True,
            client_name="orchestrator-state",
            retry=Retry(NoBackoff(), 0),
        )
        self.retrier = Retrier(location, budget_s, outage)
        self._loaded = False

    async def drop(self) -> None:
        """Forget the connection (after a failure, or a wait that was given up)."""
        self._loaded = False
        await self._conn.disconnect(nowait=True)

    async def close(self) -> None:
        await self._conn.disconnect()

    async def _ensure(self) -> None:
        if self._loaded and self._conn.is_connected:
            return
        await self._conn.connect()  # type: ignore[no-untyped-call]
        await self._conn.send_packed_command(
            self._conn.pack_commands([("SCRIPT", "LOAD", src) for src in SCRIPTS.values()]),
            check_health=False,
        )
        for _ in SCRIPTS:
            await self._conn.read_response()
        self._loaded = True

    async def send(self, commands: Sequence[Sequence[Any]]) -> None:
        await self._ensure()
        await self._conn.send_packed_command(pack(commands), check_health=False)

    async def reply(self, wait_s: float | None = None, raw: bool = False) -> Any:
        """The next reply; ``wait_s`` bounds the wait (only blocking commands pass one;
        None falls back to the connection's socket timeout, which is none).

        Other replies are awaited without a timer (it costs 10-15 us a read here): a
        server that dies or restarts closes the connection, and keepalive probes find
        a host that vanished.
        """
        return await self._conn.read_response(disable_decoding=raw, timeout=wait_s)

    async def once(self, *command: Any) -> Any:
        """One command, one reply, no retry (the caller decides what is safe to repeat)."""
        await self.send([command])
        try:
            return await self.reply()
        except ResponseError:
            raise
        except BaseException:
            await self.drop()
            raise

    async def call(self, *command: Any) -> Any:
        """One idempotent command, retried after connection failures."""
        return await self.retrier.run(lambda: self.once(*command), self.drop)


def pack(commands: Sequence[Sequence[Any]]) -> bytes:
    """Commands in the Redis protocol (RESP): a quarter of what redis-py's packer costs,
    since our arguments are only str, int and float."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            data = arg.encode() if isinstance(arg, str) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def script(name: str, *args: Any) -> tuple[Any, ...]:
    """An EVALSHA command for one of our scripts (they take their keys from ARGV)."""
    return ("EVALSHA", SHAS[name], 0, *args)


def read_client(address: RedisAddress) -> Redis:
    """A pooled client for reads outside the write lock; our Retrier does the retrying."""
    return Redis(
        ssl=address.tls,
        **address.connection_kwargs(),  # type: ignore[arg-type]
        socket_timeout=REPLY_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        decode_responses=True,
        client_name="orchestrator-state",
        retry=Retry(NoBackoff(), 0),
    )
