"""OfflineClient: a deterministic local model for dry runs, tests and benchmarks.

It answers the bible, planner, writer, extractor and editor from the structured
brief each request carries, never from a network: the writer's reply is plain
prose, and the extractor reads whatever text it is given (the writer's, or an
author's) without seeing how it was written. The same request and seed always give
the same reply. ``latency_ms`` imitates a real model's timing: a call takes that
long in all, its own writing included (the rest is an ``asyncio.sleep``, so
concurrency behaves as it would against an API);
``drift`` is the probability that a chapter deviates from its plan, so that
revision really happens. Its model name is always ``offline``: it never
pretends to be a real model. Token counts are estimates from text length, and
the cached prefix (the output's schema, the system blocks up to the last one
marked ``cache``) is counted by the Messages API's rules
(``agents.clients.caching``): too short for the model's minimum, it is plain
input; else the first call with it writes it and the calls that share it wait
until that call's reply is ready (its response "begins" when its text is made,
before the imitated latency), then read it, until it goes unused for its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import time
from collections.abc import AsyncIterator

from pydantic import BaseModel

from agents.clients.base import LLMRequest, LLMResponse, Usage, dump_brief
from agents.clients.caching import CacheTurn, PromptCaching
from agents.errors import OfflineBriefError
from agents.offline.bible import draft_bible
from agents.offline.editor import review_book
from agents.offline.planner import draft_outline
from agents.offline.reader import read_chapter
from agents.offline.writer import draft_chapter
from agents.schemas import (
    BibleBrief,
    ChapterReport,
    ContinuityReport,
    ExtractionBrief,
    Outline,
    ProjectBrief,
    ReviewBrief,
    StoryBible,
    WritingBrief,
)
from agents.tokens import estimate_tokens

OFFLINE_MODEL = "offline"


class OfflineClient:
    """A local, seeded stand-in for a model API (implements ``LLMClient``)."""

    provider = "offline"  # what the run's metrics call it

    def __init__(
        self,
        *,
        seed: int = 0,
        latency_ms: float = 0.0,
        drift: float = 0.0,
        concurrency: int | None = None,
        caching: PromptCaching | None = None,
    ) -> None:
        if not 0.0 <= drift <= 1.0:
            raise ValueError(f"drift must be a probability in [0, 1], got {drift}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {latency_ms}")
        self.seed = seed
        self.latency_s = latency_ms / 1000.0
        self.drift = drift
        self._limit = asyncio.Semaphore(concurrency) if concurrency else None
        self.caching = caching or PromptCaching()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Reply to ``request`` after the simulated latency."""
        async with self.caching.turn(request) as (request, turn), self._slot():
            started = time.perf_counter()
            reply = self._reply(request, self._rng(request))
            parsed = reply if isinstance(reply, BaseModel) else None
            text = reply if isinstance(reply, str) else reply.model_dump_json()
            turn.begun()
            # The latency is the whole call, its own writing included, as with an API.
            remaining = self.latency_s - (time.perf_counter() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
            usage = _usage(request, turn, text, time.perf_counter() - started)
        return LLMResponse(
            model=OFFLINE_MODEL, usage=usage, text=text, parsed=parsed, stop_reason="end_turn"
        )

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._limit is None:
            yield
            return
        async with self._limit:
            yield

    def _rng(self, request: LLMRequest) -> random.Random:
        material = "\0".join(
            (str(self.seed), request.agent, dump_brief(request.brief), request.prompt_text())
        )
        digest = hashlib.sha256(material.encode("utf-8")).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _reply(self, request: LLMRequest, rng: random.Random) -> BaseModel | str:
        brief, wanted = request.brief, request.output_model
        if isinstance(brief, BibleBrief) and wanted in (None, StoryBible):
            return draft_bible(brief, rng)
        if isinstance(brief, ProjectBrief) and wanted in (None, Outline):
            return draft_outline(brief, rng)
        if isinstance(brief, WritingBrief) and wanted is None:
            return draft_chapter(brief, rng, self.drift)
        if isinstance(brief, ExtractionBrief) and wanted in (None, ChapterReport):
            return read_chapter(brief)
        if isinstance(brief, ReviewBrief) and wanted in (None, ContinuityReport):
            return review_book(brief)
        output = wanted.__name__ if wanted else "text"
        raise OfflineBriefError(request.agent, type(brief).__name__, output)


def _usage(request: LLMRequest, turn: CacheTurn, text: str, latency_s: float) -> Usage:
    """Tokens as the API counts them: the cached prefix written or read, the rest input."""
    cached = turn.prefix_tokens if turn.key is not None else 0
    last = max((i for i, block in enumerate(request.system) if block.cache), default=-1)
    fresh = [message.content for message in request.messages]
    if not cached:  # the schema of a structured output is input too, as the API counts it
        fresh += [block.text for block in request.system]
        if request.output_model is not None:
            fresh.append(json.dumps(request.output_model.model_json_schema(), sort_keys=True))
    else:
        fresh += [block.text for block in request.system[last + 1 :]]
    return Usage(
        input_tokens=sum(estimate_tokens(part) for part in fresh),
        output_tokens=estimate_tokens(text),
        cache_write_tokens=cached if turn.writes else 0,
        cache_read_tokens=0 if turn.writes else cached,
        latency_s=latency_s,
    )
