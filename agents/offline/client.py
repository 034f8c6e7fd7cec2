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
the cacheable system blocks are counted as cache writes the first time they
are seen and cache reads after, as the Messages API reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import AsyncIterator

from pydantic import BaseModel

from agents.clients.base import LLMRequest, LLMResponse, Usage, dump_brief
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
    ) -> None:
        if not 0.0 <= drift <= 1.0:
            raise ValueError(f"drift must be a probability in [0, 1], got {drift}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {latency_ms}")
        self.seed = seed
        self.latency_s = latency_ms / 1000.0
        self.drift = drift
        self._limit = asyncio.Semaphore(concurrency) if concurrency else None
        self._cached: set[str] = set()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Reply to ``request`` after the simulated latency."""
        async with self._slot():
            started = time.perf_counter()
            reply = self._reply(request, self._rng(request))
            parsed = reply if isinstance(reply, BaseModel) else None
            text = reply if isinstance(reply, str) else reply.model_dump_json()
            # The latency is the whole call, its own writing included, as with an API.
            remaining = self.latency_s - (time.perf_counter() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
            usage = self._usage(request, text, time.perf_counter() - started)
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

    def _usage(self, request: LLMRequest, text: str, latency_s: float) -> Usage:
        written = read = 0
        fresh = [message.content for message in request.messages]
        for block in request.system:
            if not block.cache:
                fresh.append(block.text)
                continue
            tokens = estimate_tokens(block.text)
            key = hashlib.sha256(f"{request.model}\0{block.text}".encode()).hexdigest()
            if key in self._cached:
                read += tokens
            else:
                self._cached.add(key)
                written += tokens
        return Usage(
            input_tokens=sum(estimate_tokens(part) for part in fresh),
            output_tokens=estimate_tokens(text),
            cache_write_tokens=written,
            cache_read_tokens=read,
            latency_s=latency_s,
        )
