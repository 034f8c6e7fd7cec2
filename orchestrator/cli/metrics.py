"""``orchestrator metrics export``: a finished run's figures for review."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli.errors import user_errors
from orchestrator.cli.runs import RUN
from orchestrator.review.export import FORMATS, render
from orchestrator.review.review import build_review
from state.atomic import replace_file


@click.group("metrics", short_help="A run's figures: lock waits, model calls, tokens, cost.")
def metrics_group() -> None:
    """A run's figures: the writing's (orchestrator review prints them), state store lock
    waits, model calls, tokens, cost."""


@metrics_group.command("export")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json: everything; csv: one row per state operation and per model call, then "
    "the writing figures per chapter and for the book; prom: Prometheus text format; "
    "html: a self-contained report with charts.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file (default: print to standard output).",
)
@user_errors
def metrics_export(run_dir: Path, fmt: str, out: Path | None) -> None:
    """Export the figures of the finished run in RUN."""
    text = render(build_review(RunFolder.existing(run_dir)), fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        replace_file(out, text.encode("utf-8"))
        click.echo(f"wrote {out}", err=True)
