"""``orchestrator models check``: each agent's model answers, before a run spends anything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from agents.clients.base import LLMClient
from orchestrator.cli.errors import user_errors
from orchestrator.ops.model_check import AgentCheck, check_models
from orchestrator.project.clients import make_client
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import load_config

# A check should answer in seconds: two tries, ten seconds of waiting at most.
QUICK_RETRY = ("llm.retry.max_attempts=2", "llm.retry.max_total_wait_s=10")


@click.group("models")
def models_group() -> None:
    """The models a project calls."""


@models_group.command("check")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="As for run (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per agent.")
@user_errors
def models_check(config_path: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Send each agent's model one tiny request: the server answers, the model exists, the
    key works, and structured replies come back in the configured mode. One line an agent;
    exit 1 if any fails. Costs a few tokens; writes nothing."""
    config = load_config(config_path, (*QUICK_RETRY, *overrides))
    client = make_client(config, str(config_path))
    checks = asyncio.run(_checked(client, config))
    for check in checks:
        click.echo(json.dumps(check.to_dict()) if as_json else check.render())
    if not all(check.ok for check in checks):
        raise SystemExit(1)


async def _checked(client: LLMClient, config: ProjectConfig) -> list[AgentCheck]:
    try:
        return await check_models(config, client)
    finally:
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
