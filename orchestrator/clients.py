"""The model client a project file asks for."""

from __future__ import annotations

from agents.llm import LLMClient
from agents.offline import OfflineClient
from orchestrator.config import ProjectConfig
from orchestrator.config_errors import ConfigError, ConfigProblem


def make_client(config: ProjectConfig, source: str = "config") -> LLMClient:
    """An ``OfflineClient`` for ``provider: offline``; the Anthropic client is not built yet."""
    llm = config.llm
    if llm.provider == "offline":
        return OfflineClient(
            seed=llm.seed,
            latency_ms=llm.latency_ms,
            drift=llm.drift,
            concurrency=llm.concurrency,
        )
    raise ConfigError(
        source,
        [
            ConfigProblem(
                "llm.provider",
                "the anthropic provider is not available in this version yet; "
                "use provider: offline",
            )
        ],
    )
