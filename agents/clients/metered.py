"""A model client wrapper that records every call: latency, tokens, and its depth.

The depth of a call is its position on the chain of model calls that had to
happen one after another: 1 + the deepest call already finished when it
started. The deepest call of a run is its critical path; with a model that
takes L seconds a call, no scheduler can finish faster than critical path x L,
which is what ``orchestrator bench run`` compares the wall time with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.clients.base import LLMClient, LLMRequest, LLMResponse, Usage
from agents.clients.journal import CallJournal, call_to_json
from agents.schemas import ExtractionBrief, WritingBrief
from state.models import utc_iso


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One model call as the run saw it."""

    agent: str
    model: str
    chapter: int | None
    attempt: int | None
    started_s: float
    latency_s: float
    depth: int
    usage: Usage
    error: str | None = None
    session: int = 0  # which process of the run made it: 0 the first, 1 its first resume...
    writer: str | None = None  # a joined worker that made it ("pid 12 on host"); None: the run
    # When it started on the wall clock (``utc_iso``): every process of a run on one clock,
    # where ``started_s`` counts from its own process's start. None in older journals.
    started_at: str | None = None
    # Who served it: ``anthropic``, ``offline``, ``openai:<host>``. None in older journals.
    provider: str | None = None


@dataclass
class MeteredClient:
    """Wraps any ``LLMClient``; ``calls`` holds a record of each call in finishing order."""

    inner: LLMClient
    calls: list[CallRecord] = field(default_factory=list)
    critical_path: int = 0
    session: int = 0
    journal: CallJournal | None = None
    _origin: float = field(default_factory=time.perf_counter)

    def keep_journal(self, path: Path) -> None:
        """Record every call in ``path`` too, after the calls earlier processes recorded there
        (a resumed run counts what the whole run has spent)."""
        journal = CallJournal(path)
        earlier = [CallRecord(**record) for record in journal.read()]
        self.session = max((call.session for call in earlier), default=-1) + 1
        self.calls[:0] = earlier
        self.journal = journal

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Forward ``request`` and record what it cost."""
        depth = self.critical_path + 1
        started = time.perf_counter()
        chapter, attempt = _chapter_of(request)
        try:
            response = await self.inner.complete(request)
        except Exception as exc:
            self._record(request, chapter, attempt, started, depth, Usage(), type(exc).__name__)
            raise
        self._record(request, chapter, attempt, started, depth, response.usage, None)
        return response

    def _record(
        self,
        request: LLMRequest,
        chapter: int | None,
        attempt: int | None,
        started: float,
        depth: int,
        usage: Usage,
        error: str | None,
    ) -> None:
        now = time.perf_counter()
        self.critical_path = max(self.critical_path, depth)
        record = CallRecord(
            agent=request.agent,
            model=request.model,
            chapter=chapter,
            attempt=attempt,
            started_s=started - self._origin,
            latency_s=now - started,
            depth=depth,
            usage=usage,
            error=error,
            session=self.session,
            started_at=utc_iso(datetime.fromtimestamp(time.time() - (now - started), UTC)),
            provider=provider_of(self.inner, request.agent),
        )
        self.calls.append(record)
        if self.journal is not None:
            self.journal.append(call_to_json(record))

    def calls_of(self, chapter: int, attempt: int) -> list[dict[str, Any]]:
        """One chapter attempt's call records, to go with its outcome to the coordinator;
        their start on the wall clock, which the coordinator's clock can place."""
        wall_origin = time.time() - (time.perf_counter() - self._origin)
        return [
            {**call_to_json(call), "started_s": wall_origin + call.started_s}
            for call in self.calls
            if call.chapter == chapter and call.attempt == attempt
        ]

    def add_remote_calls(self, records: list[dict[str, Any]], writer: str) -> None:
        """Count calls a joined worker made (``calls_of`` there) as this run's."""
        wall_origin = time.time() - (time.perf_counter() - self._origin)
        known = {f.name for f in fields(CallRecord)}
        for raw in records:
            values = {k: v for k, v in raw.items() if k in known}
            values["usage"] = Usage(**raw["usage"])
            started = values["started_s"] = float(raw["started_s"]) - wall_origin
            # Its depth on this run's chain: 1 + the deepest call finished when it started.
            values["depth"] = 1 + max(
                (c.depth for c in self.calls if c.started_s + c.latency_s <= started), default=0
            )
            self.critical_path = max(self.critical_path, values["depth"])
            record = CallRecord(**{**values, "session": self.session, "writer": writer})
            self.calls.append(record)
            if self.journal is not None:
                self.journal.append(call_to_json(record))

    async def aclose(self) -> None:
        """Close the journal, and the inner client's connections if it holds any."""
        if self.journal is not None:
            self.journal.close()
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    @property
    def origin(self) -> float:
        """The ``time.perf_counter()`` that ``started_s`` of every call counts from."""
        return self._origin

    def usage(self) -> Usage:
        """Every call's usage, summed."""
        total = Usage()
        for call in self.calls:
            total = total + call.usage
        return total

    def usage_by_chapter(self) -> dict[int, Usage]:
        """Chapter -> the usage of every call made for it (all its attempts)."""
        totals: dict[int, Usage] = {}
        for call in self.calls:
            if call.chapter is not None:
                totals[call.chapter] = totals.get(call.chapter, Usage()) + call.usage
        return totals

    def attempt_costs(self) -> list[float]:
        """What each chapter attempt with a finished call has cost so far."""
        costs: dict[tuple[int, int | None], float] = {}
        for call in self.calls:
            if call.chapter is not None:
                key = (call.chapter, call.attempt)
                costs[key] = costs.get(key, 0.0) + call.usage.cost_usd
        return list(costs.values())


def provider_of(client: LLMClient, agent: str) -> str | None:
    """What ``client`` (or, routed, the client of ``agent``) calls its provider."""
    route = getattr(client, "client_for", None)
    if callable(route):
        client = route(agent)
    label = getattr(client, "provider", None)
    return label if isinstance(label, str) else None


def _chapter_of(request: LLMRequest) -> tuple[int | None, int | None]:
    brief = request.brief
    if isinstance(brief, (WritingBrief, ExtractionBrief)):
        return brief.plan.number, brief.attempt
    return None, None
