"""The model client a project file asks for, checked before any work starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agents.clients.base import LLMClient
from agents.clients.pricing import ModelPrice, PriceTable, load_prices
from agents.clients.routed import RoutedClient
from agents.errors import PriceTableError
from agents.offline.client import OfflineClient
from orchestrator.project.config import AGENT_NAMES, LLMSection, ProjectConfig, StructuredName
from orchestrator.project.problems import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from agents.clients.anthropic import AnthropicSettings
    from agents.clients.openai import OpenAISettings
    from agents.clients.rate_limiter import RateLimiter

AGENTS = AGENT_NAMES
KEY_VARIABLE = "ANTHROPIC_API_KEY"
OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
FREE = ModelPrice(input=0, output=0, cache_write=0, cache_read=0)


def make_client(
    config: ProjectConfig, source: str = "config", environ: Mapping[str, str] | None = None
) -> LLMClient:
    """An ``OfflineClient`` for ``provider: offline``, an ``AnthropicClient`` for anthropic,
    an ``OpenAIClient`` for openai; with ``llm.agents`` routes, a ``RoutedClient`` that
    sends each agent's calls to its own (one client, and so one rate limiter, per
    provider, server and key variable).

    ConfigError (before anything is written) when a provider has no API key in
    the environment (a local openai server needs none), or no price for a model
    it would call (a local server's models cost nothing).
    """
    env = os.environ if environ is None else environ
    llm = config.llm
    prices = run_prices(config, source, env) if _priced(llm) else None
    if not llm.routed():
        return _client(llm, "llm", source, env, prices)
    clients: dict[tuple[object, ...], LLMClient] = {}
    routes: dict[str, LLMClient] = {}
    for agent in AGENTS:
        section = llm.for_agent(agent)
        where = f"llm.agents.{agent}" if getattr(llm.agents, agent) is not None else "llm"
        key = (section.provider, section.base_url, section.api_key_env, section.structured)
        if key not in clients:
            clients[key] = _client(section, where, source, env, prices)
        routes[agent] = clients[key]
    return RoutedClient(routes)


def _priced(llm: LLMSection) -> bool:
    return any(llm.for_agent(agent).provider != "offline" for agent in AGENTS)


def is_paid(config: ProjectConfig) -> bool:
    """Whether some agent calls a provider that may charge (any but the offline model)."""
    return _priced(config.llm)


def _client(
    llm: LLMSection,
    where: str,
    source: str,
    env: Mapping[str, str],
    prices: PriceTable | None,
) -> LLMClient:
    """The client of one (effective) ``llm`` section; ``where`` names it in errors."""
    if llm.provider == "offline" or prices is None:
        return OfflineClient(
            seed=llm.seed,
            latency_ms=llm.latency_ms,
            drift=llm.drift,
            concurrency=llm.concurrency,
        )
    if llm.provider == "openai":
        key = openai_key(llm, env, source, where)
        settings = openai_settings(llm, env)
        # Imported here, as the Anthropic SDK is: no other command pays for its import.
        from agents.clients.openai import OpenAIClient

        return OpenAIClient(api_key=key, settings=settings, prices=prices, limiter=_limiter(llm))
    anthropic_key = env.get(KEY_VARIABLE, "").strip()
    if not anthropic_key:
        raise ConfigError(
            source,
            [
                ConfigProblem(
                    f"{where}.provider",
                    f"is anthropic, but {KEY_VARIABLE} is not set; export {KEY_VARIABLE}=... "
                    "(it is never written anywhere), or use provider: offline",
                )
            ],
        )
    # Imported here: the SDK takes about a second to import, which every other command
    # (and every offline run) would pay for nothing.
    from agents.clients.anthropic import AnthropicClient

    return AnthropicClient(
        api_key=anthropic_key,
        settings=anthropic_settings(llm, env),
        prices=prices,
        limiter=_limiter(llm),
    )


def _limiter(llm: LLMSection) -> RateLimiter:
    from agents.clients.rate_limiter import RateLimiter

    return RateLimiter(
        requests_per_minute=llm.rate_limits.requests_per_minute,
        input_tokens_per_minute=llm.rate_limits.input_tokens_per_minute,
        output_tokens_per_minute=llm.rate_limits.output_tokens_per_minute,
    )


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` is a server on this machine (localhost, 127.0.0.1, ::1)."""
    if not base_url:
        return False
    try:
        host = urlsplit(base_url).hostname
    except ValueError:
        return False
    return host in LOCAL_HOSTS


def openai_key(
    llm: LLMSection, environ: Mapping[str, str], source: str, where: str = "llm"
) -> str | None:
    """The API key of the openai provider, from the variable ``llm.api_key_env`` names
    (default OPENAI_API_KEY); None for a local server without one; else ConfigError."""
    variable = llm.api_key_env or OPENAI_KEY_VARIABLE
    key = environ.get(variable, "").strip()
    if key:
        return key
    if is_local(openai_base_url(llm, environ)):
        return None
    raise ConfigError(
        source,
        [
            ConfigProblem(
                f"{where}.api_key_env" if llm.api_key_env else f"{where}.provider",
                f"is openai, but {variable} is not set; export {variable}=... (it is never "
                "written anywhere; a server on localhost needs none), or use provider: offline",
            )
        ],
    )


def openai_base_url(llm: LLMSection, environ: Mapping[str, str]) -> str | None:
    """``llm.base_url``, else ``OPENAI_BASE_URL``, else None (OpenAI's own API)."""
    return llm.base_url or environ.get("OPENAI_BASE_URL") or None


# How each known server takes structured replies best, when llm.structured is unset.
# Zhipu documents only tool_choice "auto" (no forced call); Ollama's OpenAI endpoint
# keeps JSON mode; LM Studio, llama.cpp's server and vLLM constrain decoding to a
# JSON Schema (vLLM's tool calls need a server flag). Everything else: a forced call.
HOST_STRUCTURED: dict[str, StructuredName] = {"open.bigmodel.cn": "json"}
LOCAL_PORT_STRUCTURED: dict[int, StructuredName] = {
    11434: "json",  # Ollama
    1234: "json_schema",  # LM Studio
    8080: "json_schema",  # llama.cpp server
    8000: "json_schema",  # vLLM
}


def structured_mode(llm: LLMSection, environ: Mapping[str, str]) -> StructuredName:
    """``llm.structured``, else the known default of the server ``base_url`` names."""
    if llm.structured is not None:
        return llm.structured
    base_url = openai_base_url(llm, environ)
    if not base_url:
        return "tools"
    parts = urlsplit(base_url)
    if is_local(base_url):
        try:
            return LOCAL_PORT_STRUCTURED.get(parts.port or 80, "tools")
        except ValueError:
            return "tools"
    return HOST_STRUCTURED.get(parts.hostname or "", "tools")


def openai_settings(llm: LLMSection, environ: Mapping[str, str]) -> OpenAISettings:
    """The OpenAI client settings of the ``llm`` section."""
    from agents.clients.openai import OpenAISettings

    return OpenAISettings(
        base_url=openai_base_url(llm, environ),
        timeout_s=llm.timeout_s,
        concurrency=llm.concurrency,
        structured=structured_mode(llm, environ),
        stream=llm.stream,
        stream_from_tokens=llm.stream_from_tokens,
        retry=llm.retry,
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
        cache_ttl=llm.cache_ttl,
    )


def run_prices(
    config: ProjectConfig, source: str = "config", environ: Mapping[str, str] | None = None
) -> PriceTable:
    """The price table of a run, with a price for every model it calls (else ConfigError).
    A model of a server on this machine that the table does not know costs nothing."""
    env = os.environ if environ is None else environ
    llm = config.llm
    try:
        prices = load_prices(llm.prices)
        free = set()
        for agent in AGENTS:
            section = llm.for_agent(agent)
            if section.provider == "openai" and is_local(openai_base_url(section, env)):
                free.add(llm.model_for(agent))
        unknown = {model: FREE for model in free if prices.price(model) is None}
        if unknown:
            prices = prices.model_copy(update={"models": {**prices.models, **unknown}})
        for agent in AGENTS:
            prices.require(llm.model_for(agent))
    except PriceTableError as exc:
        raise ConfigError(source, [ConfigProblem("llm.prices", str(exc))]) from None
    return prices
