"""Prompt caching by the Messages API's rules, shared by the Anthropic and offline clients.

Two rules of the API decide what caching a run really gets:

- A prefix is cached only when it is long enough: each model has a minimum
  (``cache_minimums.yaml``, beside the prices). A shorter prefix marked with
  ``cache_control`` is billed as plain input and written nowhere, so it is
  sent unmarked, and the run says so once per agent and model, with the
  figures.
- A cache entry can be read only once the response of the request that
  writes it has begun. Twenty writers that start together would each pay a
  write; the ``CacheGate`` lets the first call with a prefix go, and holds the
  others with the same model and prefix until its response has begun (or
  until it failed: then the next one writes). An entry unused for its TTL
  (5 minutes, or 1 hour with ``llm.cache_ttl: 1h``) must be written again.

The cached prefix is what the API caches: the tool schema of a structured
output, then the system blocks up to the last one marked ``cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.clients.base import LLMRequest
from agents.errors import PriceTableError
from agents.tokens import estimate_tokens

log = structlog.get_logger("agents.clients.caching")

CacheTTL = Literal["5m", "1h"]
TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
DEFAULT_MINIMUMS = Path(__file__).resolve().parent / "cache_minimums.yaml"
_SUFFIX = re.compile(r"-(\d{8}|latest)$")


class CacheMinimums(BaseModel):
    """Model name -> the fewest tokens a cached prefix must have (``models:`` in the YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, int] = Field(default_factory=dict)

    def minimum(self, model: str) -> int | None:
        """The minimum of ``model`` (or its family's); None when the table does not know it."""
        found = self.models.get(model)
        return found if found is not None else self.models.get(_SUFFIX.sub("", model))


def load_cache_minimums(path: str | Path | None = None) -> CacheMinimums:
    """The table in ``path`` (default: the one shipped); PriceTableError if unusable."""
    source = Path(path) if path is not None else DEFAULT_MINIMUMS
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        return CacheMinimums.model_validate(data)
    except (OSError, yaml.YAMLError, UnicodeDecodeError, ValidationError) as exc:
        raise PriceTableError(str(source), f"is not a table of cache minimums: {exc}") from None


def cached_prefix(request: LLMRequest) -> str | None:
    """The text the API caches for ``request`` (None: nothing is marked)."""
    marked = [i for i, block in enumerate(request.system) if block.cache]
    if not marked:
        return None
    parts = [block.text for block in request.system[: marked[-1] + 1]]
    if request.output_model is not None:
        parts.insert(0, json.dumps(request.output_model.model_json_schema(), sort_keys=True))
    return "\n\n".join(parts)


def unmarked(request: LLMRequest) -> LLMRequest:
    """``request`` with no block marked for caching."""
    system = tuple(dataclasses.replace(block, cache=False) for block in request.system)
    return dataclasses.replace(request, system=system)


@dataclass
class _Entry:
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    used_at: float = 0.0


@dataclass
class CacheGate:
    """One cache write per prefix: the first call goes, the rest wait for its response."""

    ttl_s: float = TTL_SECONDS["5m"]
    clock: Callable[[], float] = time.monotonic
    writes: int = 0  # calls that were let through to write an entry
    _entries: dict[str, _Entry] = field(default_factory=dict)

    async def enter(self, key: str) -> bool:
        """Wait until a call with ``key`` may start; True when it is the one that writes."""
        while True:
            entry, now = self._entries.get(key), self.clock()
            if entry is None or (entry.ready.is_set() and now - entry.used_at > self.ttl_s):
                self._entries[key] = _Entry(used_at=now)
                self.writes += 1
                return True
            if entry.ready.is_set():
                entry.used_at = now  # a read keeps the entry alive, as the API's does
                return False
            await entry.ready.wait()

    def begun(self, key: str) -> None:
        """The writing call's response has begun: its entry can be read from now on."""
        entry = self._entries.get(key)
        if entry is not None and not entry.ready.is_set():
            entry.used_at = self.clock()
            entry.ready.set()

    def abandoned(self, key: str) -> None:
        """The writing call failed before its response began: the next waiter writes."""
        entry = self._entries.get(key)
        if entry is not None and not entry.ready.is_set():
            del self._entries[key]
            entry.ready.set()


@dataclass(frozen=True, slots=True)
class CacheTurn:
    """What a call does with its prefix: its gate key (None: not cached) and whether it
    writes the entry; ``begun()`` once its response has begun."""

    key: str | None
    writes: bool
    prefix_tokens: int
    gate: CacheGate | None = None

    def begun(self) -> None:
        """Let the calls waiting for this one's cache entry go."""
        if self.gate is not None and self.key is not None:
            self.gate.begun(self.key)


class PromptCaching:
    """A client's caching: check each prefix against its model's minimum, gate the writes.

    ``model_of`` names the model whose rules apply to a request (default: the one it
    calls; ``orchestrator estimate`` applies a real model's rules to offline calls).
    ``gated=False`` lets every call go at once (how the client behaved before the
    gate; the benchmarks compare the two).
    """

    def __init__(
        self,
        minimums: CacheMinimums | None = None,
        ttl: CacheTTL = "5m",
        model_of: Callable[[LLMRequest], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        gated: bool = True,
    ) -> None:
        self.gated = gated
        self.minimums = minimums if minimums is not None else CacheMinimums()
        self.ttl: CacheTTL = ttl
        self.gate = CacheGate(ttl_s=TTL_SECONDS[ttl], clock=clock)
        self._model_of = model_of or (lambda request: request.model)
        # (agent, model) -> (prefix tokens, the model's minimum) of prefixes too short to cache
        self.too_short: dict[tuple[str, str], tuple[int, int]] = {}

    def prepare(self, request: LLMRequest) -> tuple[LLMRequest, str | None, int]:
        """``request`` as it is to be sent (unmarked when its prefix is too short), its
        gate key (None when nothing is cached), and its prefix's tokens."""
        prefix = cached_prefix(request)
        if prefix is None:
            return request, None, 0
        model, tokens = self._model_of(request), estimate_tokens(prefix)
        minimum = self.minimums.minimum(model)
        if minimum is not None and tokens < minimum:
            self._warn_short(request.agent, model, tokens, minimum)
            return unmarked(request), None, tokens
        key = hashlib.sha256(f"{model}\0{prefix}".encode()).hexdigest()
        return request, key, tokens

    @contextlib.asynccontextmanager
    async def turn(self, request: LLMRequest) -> AsyncIterator[tuple[LLMRequest, CacheTurn]]:
        """Wait for this call's turn at its prefix; yields the request to send and its turn.

        A writing call that leaves without ``begun()`` (it failed) lets the next one write.
        """
        request, key, tokens = self.prepare(request)
        if key is None or not self.gated:
            yield request, CacheTurn(key if self.gated else None, False, tokens)
            return
        writes = await self.gate.enter(key)
        turn = CacheTurn(key, writes, tokens, self.gate)
        try:
            yield request, turn
        finally:
            if writes:
                self.gate.abandoned(key)  # nothing when its response had begun

    def _warn_short(self, agent: str, model: str, tokens: int, minimum: int) -> None:
        if (agent, model) in self.too_short:
            return
        self.too_short[agent, model] = (tokens, minimum)
        log.warning(
            "prompt_cache_too_short",
            agent=agent,
            model=model,
            prefix_tokens=tokens,
            minimum_tokens=minimum,
            note=f"the {agent}'s shared prefix is about {tokens:,} tokens, under the "
            f"{minimum:,} that {model} caches: it is sent unmarked and billed as input",
        )
