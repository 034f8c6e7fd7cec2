"""``orchestrator bench state --grow``: its options and its output (cli.py stays thin)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from orchestrator.bench.grow import GrowConfig, format_grow, run_grow

F = TypeVar("F", bound=Callable[..., object])
ALL_BACKENDS = ("json", "sqlite")


def bench_grow_options(func: F) -> F:
    """``--grow`` and ``--steps``."""
    func = click.option(
        "--steps",
        type=click.IntRange(1, 14),
        default=8,
        show_default=True,
        help="With --grow: how many sizes (characters and history double each step).",
    )(func)
    return click.option(
        "--grow",
        is_flag=True,
        help="Enlarge the story state step by step while the writers run, and print how "
        "lock wait grows, for every backend unless --backend is given (--ops is per step).",
    )(func)


def run_grow_command(
    backend: str,
    writers: int,
    mode: str,
    ops: int,
    durability: str,
    folder: Path | None,
    as_json: bool,
    steps: int,
) -> None:
    """Run the growth benchmark and print its table (or JSON)."""
    ctx = click.get_current_context()
    given = ctx.get_parameter_source("backend") != click.core.ParameterSource.DEFAULT
    config = GrowConfig(
        backends=(backend,) if given else ALL_BACKENDS,
        writers=writers,
        mode=mode,
        ops=ops,
        steps=steps,
        durability=durability,
        folder=folder,
    )
    results = asyncio.run(run_grow(config))
    if as_json:
        click.echo(json.dumps([step.to_dict() for step in results]))
    else:
        click.echo(format_grow(results, config))
