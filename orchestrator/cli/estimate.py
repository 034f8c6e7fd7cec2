"""``estimate``: what a book will cost and how long its rate limits let it take, before
the run. The work is ``orchestrator.run.estimate``'s; this module reads the options."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from orchestrator.cli import logs
from orchestrator.cli.errors import user_errors


@click.command("estimate", short_help="What a book will cost, and how long its limits allow.")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--model",
    default=None,
    help="Price every agent as this model (default: each agent's configured model), e.g. "
    "claude-sonnet-4-5; it needs a row in the price table.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def estimate(config_path: Path, model: str | None, as_json: bool) -> None:
    """Estimate what a book will cost and how long its rate limits let it take.

    The whole pipeline runs once through the offline model in a temporary folder
    (removed after; no model is called), and its calls are priced with the real
    prices and prompt-caching rules of the configured models, or of --model: tokens
    and dollars per agent and for the book, and the wall time llm.rate_limits allow.
    What it assumes is printed with the figures.
    """
    from agents.clients.pricing import load_prices
    from agents.errors import PriceTableError
    from orchestrator.project.load import load_config
    from orchestrator.run.estimate import agent_models, estimate_book, format_estimate

    config = load_config(config_path)
    prices = load_prices(config.llm.prices)
    for agent, name in agent_models(config, model).items():
        try:
            prices.require(name)
        except PriceTableError as exc:
            if model is not None:
                known = ", ".join(sorted(m for m in prices.models if m.startswith("claude")))
                raise click.BadParameter(
                    f"no price for {model!r} in {prices.source}; known Claude models: {known}",
                    param_hint="--model",
                ) from None
            raise click.UsageError(f"the {agent}'s model: {exc}") from None
    with logs.errors_only():
        result = asyncio.run(estimate_book(config, config_path, prices, model))
    click.echo(
        json.dumps(result.to_dict(), ensure_ascii=False) if as_json else format_estimate(result)
    )
