"""The Redis backend: ``redis://host:6379/0?namespace=NAME``, for writers on several machines.

Every key of a store lives under ``orchestrator:{NAME}:`` (see
``redis_scripts`` for the layout). A write session is exclusive across every
process and machine, as with the file backends: a writer queues for a lock
kept in Redis, first come, first served, and is woken by the script that
commits (or releases) before it, which hands it the lock together with every
document changed since this process last held it. The writer's reads are then
answered from its own cache, and its commit is one script that checks the
lock is still its own (a fencing check: a writer whose lease ran out cannot
commit), writes the documents, appends the events to a stream, and hands the
lock to the next writer, all atomically. A transaction costs two round trips.

A writer that dies holding the lock blocks the others until its lease (10 s,
``?lease=``) runs out. Lost connections are retried for ``?reconnect=``
seconds (10); a commit whose reply was lost is looked up (``done:<token>``)
before it is sent again, so it lands exactly once.

Durability is the Redis server's: see ``redis_health`` and the README.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from redis.exceptions import NoScriptError, ResponseError

from state.backend import (
    Backend,
    Durability,
    HealthCheck,
    ReadView,
    StoredEvent,
    WriteSession,
)
from state.backends.redis_health import durability_gap, health_checks, server_config
from state.backends.redis_link import (
    REPLY_TIMEOUT_S,
    SHAS,
    Outage,
    Retrier,
    WriteLink,
    describe,
    read_client,
    script,
)
from state.backends.redis_scripts import SCRIPTS, Grant, parse_grant
from state.backends.redis_url import RedisAddress
from state.errors import (
    CorruptStateError,
    LockTimeoutError,
    SchemaVersionError,
    StateOpenError,
    StateWriteError,
    StoreLostError,
    StoreUnreachableError,
)
from state.failpoints import failpoint
from state.models import utc_iso
from state.schema import SCHEMA_VERSION

log = structlog.get_logger("state.redis")

POLL_S = 1.0  # a waiter looks again this often, in case the holder died and its lease ran out
OPEN_BUDGET_S = 3.0  # a store that cannot be reached at open is most likely a wrong URL
EVENT_PAGE = 1000


class RedisBackend(Backend):
    """``redis://[user:password@]host:port/db?namespace=NAME`` (``rediss://``: TLS)."""

    def __init__(
        self,
        address: RedisAddress,
        durability: Durability = "full",
        lock_timeout_s: float = 60.0,
        lease_s: float = 10.0,
        reconnect_s: float = 10.0,
        create: bool = True,
    ) -> None:
        location = f"{address.display()}?namespace={address.namespace}"
        super().__init__(location, durability)
        self.scheme = "rediss" if address.tls else "redis"
        self.address = address
        self.create = create
        self.lock_timeout_s = lock_timeout_s
        self.lease_ms = max(1, int(lease_s * 1000))
        # How long a commit's token is kept: long enough to ask "did it land?" after the
        # reply was lost, for as long as we keep retrying.
        self.remember_ms = int(max(60.0, 2 * reconnect_s) * 1000)
        self.prefix = address.key_prefix
        self._docs = self.prefix + "docs"
        outage = Outage()  # one server: what one path learns of it, the other knows
        self._link = WriteLink(address, location, reconnect_s, outage)
        self._client = read_client(address)
        self._reads = Retrier(location, reconnect_s, outage)
        self._local = asyncio.Lock()
        # The documents this process has seen, exact as of commit number ``_version``
        # (-1: nothing is known). Kept only while the lock is ours, or handed to us.
        self._cache: dict[str, str | None] = {}
        self._version = -1
        self._seq = 0
        self._created: str | None = None  # which store the cache is of
        self.durability_gap: str | None = None  # what the server lacks for ``durability``

    # -- opening -------------------------------------------------------------------

    async def open(self) -> None:
        self._link.retrier.budget_s = min(self._link.retrier.budget_s, OPEN_BUDGET_S)
        try:
            schema = await self._link.call(
                *script(
                    "init",
                    self.prefix,
                    SCHEMA_VERSION,
                    int(self.create),
                    utc_iso(),
                )
            )
            config = await server_config(self._client)
        except StoreUnreachableError as exc:
            await self.close()
            raise StateOpenError(self.location, f"Redis is not reachable: {exc.reason}") from None
        except ResponseError as exc:
            await self.close()
            raise self._open_error(exc) from None
        except BaseException:
            await self.close()
            raise
        finally:
            self._link.retrier.budget_s = self._reads.budget_s
        if str(schema) != str(SCHEMA_VERSION):
            await self.close()
            raise SchemaVersionError(self.location, schema, SCHEMA_VERSION)
        # Not logged here: a library must not write to a console nobody configured.
        # ``orchestrator doctor`` (health) reports it.
        self.durability_gap = durability_gap(config, self.durability)

    def _open_error(self, exc: ResponseError) -> Exception:
        text = describe(exc)
        if text.startswith("NOSTORE"):
            return StateOpenError(self.location, "there is no state store in this namespace")
        if text.startswith("WRONGTYPE"):
            return CorruptStateError(
                self.location, f"a key of the store has the wrong type: {text}"
            )
        if "DB index is out of range" in text:
            return StateOpenError(self.location, f"the server has no database {self.address.db}")
        return StateOpenError(self.location, text)

    async def close(self) -> None:
        await self._link.close()
        await self._client.aclose()

    # -- the write lock --------------------------------------------------------------

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[WriteSession]:
        async with self._local:
            token = secrets.token_hex(8)
            await self._acquire(token)
            session = _RedisSession(self, token)
            try:
                yield session
            finally:
                if not session.finished:
                    await self._release(token)

    async def _release(self, token: str) -> None:
        """Hand the lock on after a session that did not commit; its lease covers a failure."""
        try:
            await self._link.call(*script("release", self.prefix, token, self.lease_ms))
        except (StoreUnreachableError, ResponseError) as exc:
            self._cleanup_failed("state.redis.release_failed", exc)

    async def _acquire(self, token: str) -> None:
        started = time.monotonic()
        turn = _Turn(token, self._version)
        try:
            while True:
                remaining = started + self.lock_timeout_s - time.monotonic()
                if remaining <= 0:
                    raise LockTimeoutError(self.location, time.monotonic() - started)
                wait = min(POLL_S, remaining)
                grant = await self._link.retrier.run(
                    partial(self._queue_and_wait, turn, wait), self._link.drop
                )
                if grant is not None:
                    self._take(grant)
                    return
        except BaseException:
            # Cancelled, timed out or failed while queued: leave the queue, and hand the
            # lock on if it was granted meanwhile. The write connection may be mid-reply.
            await self._link.drop()
            await asyncio.shield(self._leave(turn))
            raise

    async def _queue_and_wait(self, turn: _Turn, wait: float) -> Grant | None:
        """Queue for the lock (or take it) and wait up to ``wait`` s for the grant."""
        again = int(turn.asked)
        turn.asked = True
        await self._link.send(
            [
                script("acquire", self.prefix, turn.token, turn.since, self.lease_ms, again),
                ("BLPOP", f"{self.prefix}wake:{turn.token}", wait),
            ]
        )
        try:
            await self._link.reply()
        except ResponseError as exc:
            await self._link.drop()  # the BLPOP behind it would block for nothing
            if describe(exc).startswith("NOSTORE"):
                raise StoreLostError(self.location) from None
            raise
        popped = await self._link.reply(wait + REPLY_TIMEOUT_S, raw=True)
        return None if popped is None else parse_grant(popped[1])

    async def _leave(self, turn: _Turn) -> None:
        try:
            await self._client_script("leave", self.prefix, turn.token, turn.since, self.lease_ms)
        except Exception as exc:  # noqa: BLE001 - the lease frees the lock if this fails
            self._cleanup_failed("state.redis.leave_failed", exc)

    def _cleanup_failed(self, event: str, exc: Exception) -> None:
        """Giving the lock up failed: its lease frees it. A server that is away was already
        reported (and the operation's own error says so), so that is not said again."""
        if isinstance(exc, StoreUnreachableError):
            log.debug(event, url=self.location, reason=exc.reason)
        else:
            log.warning(event, url=self.location, reason=describe(exc))

    def _take(self, grant: Grant) -> None:
        """Bring the cache up to the version the grant carries."""
        if grant.reset or grant.created != self._created:
            self._cache.clear()
            self._created = grant.created
        self._cache.update(grant.changed)
        self._version = grant.version
        self._seq = grant.seq

    def _forget(self) -> None:
        self._cache.clear()
        self._version = -1

    # -- committing --------------------------------------------------------------------

    async def _commit(
        self, token: str, writes: Mapping[str, str | None], events: Sequence[StoredEvent]
    ) -> None:
        puts = [(k, v) for k, v in writes.items() if v is not None]
        deletes = [k for k, v in writes.items() if v is None]
        command = script(
            "commit",
            self.prefix,
            token,
            self.lease_ms,
            self.remember_ms,
            len(puts),
            *(x for pair in puts for x in pair),
            len(deletes),
            *deletes,
            len(events),
            *(x for e in events for x in (e.seq, e.chapter, e.body)),
        )
        sent = False
        failpoint("redis.before_commit")

        async def attempt() -> Any:
            nonlocal sent
            if sent:  # the reply was lost: did the commit land before it?
                done = await self._link.once("GET", f"{self.prefix}done:{token}")
                if done is not None:
                    return done
            sent = True
            return await self._link.once(*command)

        try:
            version = await self._link.retrier.run(attempt, self._link.drop)
        except ResponseError as exc:
            self._forget()
            raise self._commit_error(exc) from None
        except BaseException:
            self._forget()
            raise
        self._cache.update(writes)
        self._version = int(version)
        if events:
            self._seq = events[-1].seq

    def _commit_error(self, exc: ResponseError) -> Exception:
        text = describe(exc)
        if text.startswith("NOSTORE"):
            return StoreLostError(self.location)
        if text.startswith("LOSTLOCK"):
            reason = (
                f"the write lock's lease ({self.lease_ms / 1000:g} s) ran out before the "
                "commit and another writer may have taken over"
            )
            return StateWriteError(self.location, OSError(errno.ETIMEDOUT, reason))
        return StateWriteError(self.location, OSError(errno.EIO, text))

    # -- reading without the lock ------------------------------------------------------

    async def _client_script(self, name: str, *args: Any) -> Any:
        async def call() -> Any:
            try:
                return await self._client.evalsha(SHAS[name], 0, *args)
            except NoScriptError:
                await self._client.script_load(SCRIPTS[name])
                return await self._client.evalsha(SHAS[name], 0, *args)

        return await self._read(call)

    async def _read(self, call: Any) -> Any:
        async def noop() -> None:
            return None

        try:
            return await self._reads.run(call, noop)
        except ResponseError as exc:
            if describe(exc).startswith("WRONGTYPE"):
                raise CorruptStateError(self.location, describe(exc)) from None
            raise

    async def get(self, key: str) -> str | None:
        value = await self._read(lambda: self._client.hget(self._docs, key))
        return None if value is None else str(value)

    async def scan(self, prefix: str) -> dict[str, str]:
        return (await self.read_view((prefix,), None)).docs

    async def read_view(
        self, prefixes: Sequence[str], events_before_chapter: int | None
    ) -> ReadView:
        before = -1 if events_before_chapter is None else events_before_chapter
        flat_docs, flat_events, seq = await self._client_script(
            "read_view", self.prefix, before, len(prefixes), *prefixes
        )
        return ReadView(
            docs=dict(zip(flat_docs[::2], flat_docs[1::2], strict=True)),
            events=[
                StoredEvent(int(s), int(c), str(b))
                for s, c, b in zip(
                    flat_events[::3], flat_events[1::3], flat_events[2::3], strict=True
                )
            ],
            last_seq=int(seq),
        )

    async def events(
        self, after_seq: int = 0, before_chapter: int | None = None
    ) -> AsyncIterator[StoredEvent]:
        start = after_seq + 1
        while True:
            page = await self._read(
                lambda s=start: self._client.xrange(
                    self.prefix + "events", f"{s}-0", "+", count=EVENT_PAGE
                )
            )
            for entry_id, fields in page:
                seq = int(str(entry_id).split("-", 1)[0])
                chapter = int(fields["c"])
                if before_chapter is None or chapter < before_chapter:
                    yield StoredEvent(seq=seq, chapter=chapter, body=str(fields["b"]))
                start = seq + 1
            if len(page) < EVENT_PAGE:
                return

    async def health(self) -> list[HealthCheck]:
        return await health_checks(self._client, self.prefix, self.location, self.durability)

    async def drop(self) -> int:
        """Delete every key of this store (tests, benchmarks, a finished migration)."""
        deleted = 0
        keys: list[str] = []
        async for key in self._client.scan_iter(match=self.prefix + "*", count=500):
            keys.append(key)
            if len(keys) >= 500:
                deleted += await self._client.unlink(*keys)
                keys.clear()
        if keys:
            deleted += await self._client.unlink(*keys)
        self._forget()
        return deleted


@dataclass
class _Turn:
    """One wait for the write lock: the token, the cache's version, and whether it asked."""

    token: str
    since: int
    asked: bool = False


class _RedisSession(WriteSession):
    """The lock is ours: reads come from the cache (or Redis, once), one script commits."""

    def __init__(self, backend: RedisBackend, token: str) -> None:
        self._b = backend
        self._token = token
        self.finished = False

    async def read(self, key: str) -> str | None:
        cache = self._b._cache
        if key in cache:
            return cache[key]
        value = await self._b._link.call("HGET", self._b._docs, key)
        cache[key] = None if value is None else str(value)
        return cache[key]

    async def scan(self, prefix: str) -> dict[str, str]:
        # Through the write connection: it is ours now, and what we read must be what we hold.
        flat, _events, _seq = await self._b._link.call(
            *script("read_view", self._b.prefix, -1, 1, prefix)
        )
        return dict(zip(flat[::2], flat[1::2], strict=True))

    async def last_seq(self) -> int:
        return self._b._seq

    async def commit(self, writes: Mapping[str, str | None], events: Sequence[StoredEvent]) -> None:
        try:
            await self._b._commit(self._token, writes, events)
        except (StoreLostError, StoreUnreachableError):
            self.finished = True  # no lock left to release, or no server to release it on
            raise
        except StateWriteError as exc:
            self.finished = exc.errno == errno.ETIMEDOUT  # the lease ran out: not ours
            raise
        self.finished = True  # the commit script handed the lock on
