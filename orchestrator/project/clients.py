"""The model client a project file asks for, checked before any work starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agents.clients.base import LLMClient
from agents.clients.pricing import PriceTable, load_prices
from agents.errors import PriceTableError
from agents.offline.client import OfflineClient
from orchestrator.project.config import AgentName, LLMSection, ProjectConfig
from orchestrator.project.problems import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from agents.clients.anthropic import AnthropicSettings

AGENTS: tuple[AgentName, ...] = ("planner", "writer", "editor")
KEY_VARIABLE = "ANTHROPIC_API_KEY"


def make_client(
    config: ProjectConfig, source: str = "config", environ: Mapping[str, str] | None = None
) -> LLMClient:
    """An ``OfflineClient`` for ``provider: offline``, an ``AnthropicClient`` for anthropic.

    ConfigError (before anything is written) when the anthropic provider has
    no API key in the environment, or no price for a model it would call.
    """
    llm = config.llm
    if llm.provider == "offline":
        return OfflineClient(
            seed=llm.seed,
            latency_ms=llm.latency_ms,
            drift=llm.drift,
            concurrency=llm.concurrency,
        )
    env = os.environ if environ is None else environ
    key = env.get(KEY_VARIABLE, "").strip()
    if not key:
        raise ConfigError(
            source,
            [
                ConfigProblem(
                    "llm.provider",
                    f"is anthropic, but {KEY_VARIABLE} is not set; export {KEY_VARIABLE}=... "
                    "(it is never written anywhere), or use provider: offline",
                )
            ],
        )
    # Imported here: the SDK takes about a second to import, which every other command
    # (and every offline run) would pay for nothing.
    from agents.clients.anthropic import AnthropicClient
    from agents.clients.rate_limiter import RateLimiter

    return AnthropicClient(
        api_key=key,
        settings=anthropic_settings(llm, env),
        prices=run_prices(config, source),
        limiter=RateLimiter(
            requests_per_minute=llm.rate_limits.requests_per_minute,
            input_tokens_per_minute=llm.rate_limits.input_tokens_per_minute,
            output_tokens_per_minute=llm.rate_limits.output_tokens_per_minute,
        ),
    )


def anthropic_settings(llm: LLMSection, environ: Mapping[str, str]) -> AnthropicSettings:
    """The client settings of the ``llm`` section; the base URL may come from
    ``ANTHROPIC_BASE_URL`` when the config gives none."""
    from agents.clients.anthropic import AnthropicSettings

    return AnthropicSettings(
        base_url=llm.base_url or environ.get("ANTHROPIC_BASE_URL") or None,
        timeout_s=llm.timeout_s,
        stream_from_tokens=llm.stream_from_tokens,
        concurrency=llm.concurrency,
        retry=llm.retry,
    )


def run_prices(config: ProjectConfig, source: str = "config") -> PriceTable:
    """The price table of a run, with a price for every model it calls (else ConfigError)."""
    try:
        prices = load_prices(config.llm.prices)
        for agent in AGENTS:
            prices.require(config.llm.model_for(agent))
    except PriceTableError as exc:
        raise ConfigError(source, [ConfigProblem("llm.prices", str(exc))]) from None
    return prices
