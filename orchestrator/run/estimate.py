"""``orchestrator estimate``: what a book will cost, and how long its rate limits let it take.

The whole pipeline runs once through the offline model, in a temporary folder that
is removed after (nothing is left behind, and no model is called): the planner,
every writer, the editor, each with the prompts a real run would send. Its calls
are then priced with the real price table for the configured models (or one model
given), and their prompt caching follows that model's rules: a prefix under its
minimum is plain input, one write per shared prefix, reads after. The wall time
the configured ``llm.rate_limits`` allow is the largest of requests, counted input
tokens (cache reads are not counted) and output tokens, each over its per-minute
limit. What this assumes is said with the figures (``Estimate.assumptions``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.clients.base import LLMRequest, Usage
from agents.clients.caching import PromptCaching, load_cache_minimums
from agents.clients.metered import MeteredClient
from agents.clients.pricing import PriceTable
from agents.offline.client import OfflineClient
from agents.tokens import CHARS_PER_TOKEN
from orchestrator.artifacts.folder import RunFolder
from orchestrator.project.clients import AGENTS
from orchestrator.project.config import AgentRoutes, ProjectConfig
from orchestrator.run.novel import RunRequest, run_novel

WORDS_PER_UNIT = 10_000  # dollars are also given per this many words


@dataclass(frozen=True)
class AgentEstimate:
    """One agent's calls over the book, priced."""

    agent: str
    model: str
    calls: int
    usage: Usage
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "model": self.model,
            "calls": self.calls,
            "usage": self.usage.model_dump(exclude={"latency_s", "cost_usd"}),
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class Estimate:
    """The book's tokens and dollars per agent and in all, and the wall time limits allow."""

    title: str
    chapters: int
    words: int
    cache_ttl: str
    agents: list[AgentEstimate]
    rate_limits: dict[str, int | None]
    assumptions: list[str] = field(default_factory=list)
    too_short: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for agent in self.agents:
            total = total + agent.usage
        return total

    @property
    def cost_usd(self) -> float:
        return sum(agent.cost_usd for agent in self.agents)

    @property
    def calls(self) -> int:
        return sum(agent.calls for agent in self.agents)

    def per_10k_words(self) -> float | None:
        return self.cost_usd * WORDS_PER_UNIT / self.words if self.words else None

    def cache_read_share(self) -> float:
        """The share of input tokens read from the cache."""
        usage = self.usage
        read = usage.cache_read_tokens
        total = usage.input_tokens + usage.cache_write_tokens + read
        return read / total if total else 0.0

    def limits_minutes(self) -> dict[str, float]:
        """Limit -> the minutes the book's needs take at it (configured limits only)."""
        usage = self.usage
        needs = {
            "requests_per_minute": self.calls,
            "input_tokens_per_minute": usage.input_tokens + usage.cache_write_tokens,
            "output_tokens_per_minute": usage.output_tokens,
        }
        return {k: needs[k] / v for k, v in self.rate_limits.items() if v}

    def limits_bound_s(self) -> float | None:
        """The shortest wall time the per-minute limits allow (None: no limit configured)."""
        minutes = self.limits_minutes()
        return max(minutes.values()) * 60 if minutes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "chapters": self.chapters,
            "words": self.words,
            "cache_ttl": self.cache_ttl,
            "agents": [agent.to_dict() for agent in self.agents],
            "usage": self.usage.model_dump(exclude={"latency_s", "cost_usd"}),
            "calls": self.calls,
            "cost_usd": round(self.cost_usd, 6),
            "cost_per_10k_words_usd": _rounded(self.per_10k_words()),
            "cache_read_share": round(self.cache_read_share(), 4),
            "rate_limits": self.rate_limits,
            "limits_bound_s": _rounded(self.limits_bound_s()),
            "prefixes_too_short": {
                agent: {"prefix_tokens": tokens, "minimum_tokens": minimum}
                for agent, (tokens, minimum) in self.too_short.items()
            },
            "assumptions": self.assumptions,
        }


def agent_models(config: ProjectConfig, model: str | None) -> dict[str, str]:
    """The model each agent is priced as: ``model`` for all, else each one's configured."""
    return {agent: model or config.llm.model_for(agent) for agent in AGENTS}


def offline_config(config: ProjectConfig) -> ProjectConfig:
    """``config`` run by the offline model, at once, with its store in the run folder, and
    writers of its own (a project written only by joined workers would wait for them)."""
    llm = config.llm.model_copy(
        update={"provider": "offline", "latency_ms": 0, "budget_usd": None, "agents": AgentRoutes()}
    )
    state = config.state.model_copy(update={"url": None})
    workers = max(1, config.orchestrator.workers)
    orchestrator = config.orchestrator.model_copy(update={"workers": workers})
    return config.model_copy(update={"llm": llm, "state": state, "orchestrator": orchestrator})


async def estimate_book(
    config: ProjectConfig, config_path: Path, prices: PriceTable, model: str | None = None
) -> Estimate:
    """Run the book offline in a temporary folder and price it (see the module doc)."""
    models = agent_models(config, model)
    caching = PromptCaching(load_cache_minimums(), config.llm.cache_ttl, model_of=_model_of(models))
    llm = config.llm
    client = MeteredClient(OfflineClient(seed=llm.seed, drift=llm.drift, caching=caching))
    with tempfile.TemporaryDirectory(prefix="orchestrator-estimate-") as tmp:
        folder = RunFolder.create(Path(tmp) / "run")
        try:
            folder.lock()
            request = RunRequest(offline_config(config), config_path, folder)
            summary = await run_novel(request, lambda _event, _fields: None, client)
        finally:
            folder.unlock()
            await client.aclose()
    per_agent = _per_agent(client, models, prices, config.llm.cache_ttl)
    return Estimate(
        title=config.project.title,
        chapters=summary.chapters,
        words=summary.words,
        cache_ttl=config.llm.cache_ttl,
        agents=per_agent,
        rate_limits=config.llm.rate_limits.model_dump(),
        assumptions=assumptions(config),
        too_short={agent: figures for (agent, _), figures in caching.too_short.items()},
    )


def _model_of(models: dict[str, str]) -> Callable[[LLMRequest], str]:
    """Whose caching rules apply to an offline call: its agent's priced model."""

    def model_of(request: LLMRequest) -> str:
        return models.get(request.agent, request.model)

    return model_of


def _per_agent(
    client: MeteredClient, models: dict[str, str], prices: PriceTable, ttl: str
) -> list[AgentEstimate]:
    usage: dict[str, Usage] = {}
    calls: dict[str, int] = {}
    for call in client.calls:
        usage[call.agent] = usage.get(call.agent, Usage()) + call.usage
        calls[call.agent] = calls.get(call.agent, 0) + 1
    result = []
    for agent, total in usage.items():
        model = models.get(agent, "offline")
        cost = prices.cost(model, total, ttl)
        result.append(AgentEstimate(agent, model, calls[agent], total, cost))
    return result


def assumptions(config: ProjectConfig) -> list[str]:
    """What the estimate takes for granted, in words."""
    return [
        f"tokens are estimated from the offline model's text at {CHARS_PER_TOKEN:g} "
        "characters a token (a Han character a token), prompts as a real run sends them",
        f"replies are at the target length ({config.project.target_words} words a chapter) "
        "and valid the first time: no retries, no revisions beyond the offline model's "
        f"drift ({config.llm.drift:g})",
        "cache hits follow the API's rules: a prefix under the model's minimum is not "
        "cached; one write per shared prefix, reads after, the cache kept warm "
        f"(calls less than {config.llm.cache_ttl} apart)",
        "prices from the price table (llm.prices, else the one shipped); 1h cache writes "
        "at 2x input",
    ]


def format_estimate(estimate: Estimate) -> str:
    """The estimate as a table per agent, the totals, the time bound and the assumptions."""
    lines = [
        f'"{estimate.title}": {estimate.chapters} chapters, about {estimate.words:,} words',
        f"{'agent':<10} {'model':<20} {'calls':>5} {'input':>9} {'cache w':>9} "
        f"{'cache r':>9} {'output':>9} {'USD':>9}",
    ]
    for row in [*estimate.agents, _total_row(estimate)]:
        u = row.usage
        lines.append(
            f"{row.agent:<10} {row.model:<20} {row.calls:>5} {u.input_tokens:>9,} "
            f"{u.cache_write_tokens:>9,} {u.cache_read_tokens:>9,} {u.output_tokens:>9,} "
            f"{row.cost_usd:>9.4f}"
        )
    per_10k = estimate.per_10k_words()
    if per_10k is not None:
        lines.append(f"${per_10k:.4f} per 10,000 words")
    lines.append(f"input read from the cache: {estimate.cache_read_share():.0%}")
    for agent, (tokens, minimum) in estimate.too_short.items():
        lines.append(
            f"not cached: the {agent}'s shared prefix is about {tokens:,} tokens, under "
            f"the model's minimum of {minimum:,}"
        )
    lines.append(_bound_line(estimate))
    lines.append("assumes:")
    lines += [f"  - {text}" for text in estimate.assumptions]
    return "\n".join(lines)


def _total_row(estimate: Estimate) -> AgentEstimate:
    models = {agent.model for agent in estimate.agents}
    model = models.pop() if len(models) == 1 else "(several)"
    return AgentEstimate("book", model, estimate.calls, estimate.usage, estimate.cost_usd)


def _bound_line(estimate: Estimate) -> str:
    bound = estimate.limits_bound_s()
    if bound is None:
        return "wall time: no llm.rate_limits set; set them to see the time they allow"
    minutes = estimate.limits_minutes()
    binding = max(minutes, key=lambda k: minutes[k]).removesuffix("_per_minute")
    return (
        f"wall time the rate limits allow: at least {bound / 60:.1f} min "
        f"({binding.replace('_', ' ')} bind; cache reads do not count against input)"
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
