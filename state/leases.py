"""Leases: who is writing a chapter right now, until when.

A lease is a document ``lease/<name>`` in the store, taken and renewed in
ordinary transactions, so it works on every backend and across processes and
machines. It names its holder (host, pid, process start time and a random
token) and an expiry on the wall clock. Another holder may take it over once
it has expired, or at once when its holder is provably dead: a process on the
same host that no longer exists. A killed run's leases therefore never delay
its own resume, while a worker on another machine is waited for until its
lease runs out.

A delta can be *fenced* by a lease (``StateManager.apply(delta, lease=...)``):
it commits only if the lease is still the holder's, and the lease is released
in the same transaction.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from state.errors import StateError
from state.transaction import Transaction

LEASE_PREFIX = "lease/"
HOST_ENV = "ORCHESTRATOR_HOST"


def host_name() -> str:
    """This machine's name in leases: ``$ORCHESTRATOR_HOST`` if set (containers that share a
    hostname must set it apart), else the hostname. A lease of a dead pid is taken over at
    once only when its host is this one."""
    return os.environ.get(HOST_ENV, "").strip() or socket.gethostname()


def lease_key(name: str) -> str:
    return f"{LEASE_PREFIX}{name}"


class LeaseLostError(StateError):
    """A fenced commit was refused: the lease expired and another holder took it."""

    def __init__(self, name: str, holder: str | None) -> None:
        self.name = name
        self.holder = holder
        taker = f"now held by {holder}" if holder else "no longer held"
        super().__init__(f"lease {name!r} was lost ({taker}); the work done under it is not kept")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments: the default would pass the message alone
        return type(self), (self.name, self.holder), self.__dict__


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            # The command name (field 2) may hold spaces; fields after it are plain.
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None) -> bool:
    """Whether the process ``pid`` (started at ``started`` ticks, if known) still runs here."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    if started is None:
        return True
    now_started = _start_ticks(pid)
    return now_started is None or now_started == started


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds leases: one per process (or per worker)."""

    host: str
    pid: int
    started: int | None
    token: str

    @classmethod
    def this_process(cls) -> Holder:
        pid = os.getpid()
        return cls(host_name(), pid, _start_ticks(pid), secrets.token_hex(8))

    def label(self) -> str:
        return f"pid {self.pid} on {self.host}"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "started": self.started, "token": self.token}


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as stored: its name, holder and expiry (epoch seconds)."""

    name: str
    holder: Holder
    acquired_at: float
    expires_at: float

    @classmethod
    def from_doc(cls, name: str, doc: dict[str, Any]) -> Lease:
        h = doc["holder"]
        holder = Holder(str(h["host"]), int(h["pid"]), h.get("started"), str(h["token"]))
        return cls(name, holder, float(doc["acquired_at"]), float(doc["expires_at"]))

    def to_doc(self) -> dict[str, Any]:
        return {
            "holder": self.holder.to_dict(),
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
        }

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def holder_dead(self) -> bool:
        """The holder is a process on this host that no longer exists."""
        return self.holder.host == host_name() and not process_alive(
            self.holder.pid, self.holder.started
        )

    def stale(self, now: float | None = None) -> bool:
        """Left behind: expired, or its holder is provably dead."""
        return self.expired(now) or self.holder_dead()

    def stale_reason(self, now: float | None = None) -> str | None:
        if self.holder_dead():
            return f"its holder ({self.holder.label()}) is dead"
        now = time.time() if now is None else now
        if self.expired(now):
            return f"expired {now - self.expires_at:.0f} s ago ({self.holder.label()})"
        return None


async def claim_in(
    tx: Transaction, name: str, holder: Holder, ttl_s: float
) -> tuple[Lease | None, Lease | None]:
    """Take or renew ``name`` for ``holder``: (the lease taken, or None; the one it replaced)."""
    now = time.time()
    doc = await tx.get(lease_key(name))
    current = None if doc is None else Lease.from_doc(name, doc)
    if current is not None and current.holder.token != holder.token and not current.stale(now):
        return None, current
    ours = current is not None and current.holder.token == holder.token
    acquired = current.acquired_at if current is not None and ours else now
    lease = Lease(name, holder, acquired, now + ttl_s)
    await tx.put(lease_key(name), lease.to_doc())
    return lease, None if ours else current


async def check_fence(tx: Transaction, lease: Lease) -> None:
    """Raise :class:`LeaseLostError` unless ``lease`` is still its holder's; then release it."""
    doc = await tx.get(lease_key(lease.name))
    current = None if doc is None else Lease.from_doc(lease.name, doc)
    if current is None or current.holder.token != lease.holder.token:
        raise LeaseLostError(lease.name, current.holder.label() if current else None)
    await tx.delete(lease_key(lease.name))
