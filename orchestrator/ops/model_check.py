"""``orchestrator models check``: before anything is spent, does each agent's model answer?

One tiny request per distinct (client, model): the server answers, the model
exists, the key works, and a structured reply in the configured mode
(``llm.structured``: tools or json) comes back valid. Agents that share a client
and a model share the check. The offline model needs none.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.clients.base import LLMClient, LLMRequest, Message, SystemBlock
from agents.clients.routed import RoutedClient
from agents.errors import AgentError, OutputValidationError
from orchestrator.project.clients import structured_mode
from orchestrator.project.config import AGENT_NAMES, ProjectConfig

PING = "Answer with ok set to true."
# What to try when a server answers but its structured reply does not validate.
NEXT_MODE = {
    "tools": "try llm.structured: json_schema or json",
    "json_schema": "try llm.structured: json",
    "json": "try llm.structured: text",
}


class ConnectionCheck(BaseModel):
    """Whether the connection works (always true when the model can answer)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool


@dataclass(frozen=True, slots=True)
class AgentCheck:
    """One agent's model, where it is served, and whether it answered."""

    agent: str
    provider: str
    model: str
    structured: str
    ok: bool
    detail: str
    seconds: float = 0.0
    cost_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "provider": self.provider,
            "model": self.model,
            "structured": self.structured,
            "ok": self.ok,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "cost_usd": self.cost_usd,
        }

    def render(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        where = self.provider if self.model == self.provider else f"{self.provider} {self.model}"
        return f"{mark} {self.agent:<9} {where}: {self.detail}"


async def check_models(config: ProjectConfig, client: LLMClient) -> list[AgentCheck]:
    """Each agent's check, in the order bible, planner, writer, extractor, editor (the
    bible agent only when the project has no cast: otherwise it is never called)."""
    done: dict[tuple[int, str], AgentCheck] = {}
    checks = []
    for agent in AGENT_NAMES:
        if agent == "bible" and config.characters:
            continue
        section = config.llm.for_agent(agent)
        model = config.llm.model_for(agent)
        own = client.client_for(agent) if isinstance(client, RoutedClient) else client
        where = _where(section.provider, section.base_url)
        if section.provider == "offline":
            needless = "the offline model needs no check"
            checks.append(AgentCheck(agent, where, model, "-", True, needless))
            continue
        # Anthropic's structured replies are always a forced tool call.
        openai = section.provider == "openai"
        structured = structured_mode(section, os.environ) if openai else "tools"
        key = (id(own), model)
        if key not in done:
            done[key] = await _check(own, agent, where, model, structured)
        first = done[key]  # another agent's check of the same client and model counts here
        checks.append(
            dataclasses.replace(first, agent=agent, cost_usd=0.0) if first.agent != agent else first
        )
    return checks


async def _check(
    client: LLMClient, agent: str, where: str, model: str, structured: str
) -> AgentCheck:
    request = LLMRequest(
        agent=agent,
        model=model,
        system=(SystemBlock("You check a connection. Reply only as asked."),),
        messages=(Message("user", PING),),
        max_tokens=64,
        temperature=0,
        output_model=ConnectionCheck,
    )
    started = time.perf_counter()
    try:
        reply = await client.complete(request)
        reply.output(ConnectionCheck, agent)
    except OutputValidationError as exc:
        hint = NEXT_MODE.get(structured, "try another model")
        detail = f"answers, but its structured reply does not validate ({exc}); {hint}"
        return AgentCheck(agent, where, model, structured, False, detail)
    except AgentError as exc:
        return AgentCheck(agent, where, model, structured, False, str(exc))
    seconds = time.perf_counter() - started
    detail = f"answers, structured replies by {structured} work ({seconds:.1f} s)"
    return AgentCheck(agent, where, model, structured, True, detail, seconds, reply.usage.cost_usd)


def _where(provider: str, base_url: str | None) -> str:
    if provider != "openai" or not base_url:
        return provider
    host = base_url.split("://", 1)[-1].split("/", 1)[0]
    return f"openai:{host}"
