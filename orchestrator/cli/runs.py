"""``orchestrator runs [DIR]``, and ``RUN``: the argument every command that takes a run
reads as its folder, or as its id under ``./runs``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestrator.artifacts.folder import RUN_FILE
from orchestrator.cli.errors import user_errors
from orchestrator.run.status import RunStatus, run_folders, run_status

RUNS_DIR = Path("runs")


if TYPE_CHECKING:  # generic only in recent click; the bound stays >=8.1
    _PathParam = click.ParamType[Path]
else:
    _PathParam = click.ParamType


class RunArgument(_PathParam):
    """A run folder, or a run's id (its folder's name) under ``./runs``."""

    name = "run"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.is_dir() or path.is_absolute() or len(path.parts) > 1:
            return path  # a folder (a missing one is reported by the command, with its reason)
        under_runs = RUNS_DIR / path
        return under_runs if (under_runs / RUN_FILE).is_file() else path


RUN = RunArgument()


def latest_run(parent: Path = RUNS_DIR) -> Path:
    """The run that started last under ``parent``; a UsageError when there is none."""
    found = run_folders(parent)
    if not found:
        raise click.UsageError(f"no runs in {parent.absolute()}; give a run folder (RUN)")
    return found[-1]


@click.command("runs", short_help="List the runs: state, chapters written, cost.")
@click.argument(
    "parent", metavar="[DIR]", type=click.Path(file_okay=False, path_type=Path), default=RUNS_DIR
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run.")
@user_errors
def runs(parent: Path, as_json: bool) -> None:
    """List the runs in DIR (default ./runs), oldest first: state, chapters, cost."""
    statuses = asyncio.run(_statuses(run_folders(parent)))
    if as_json:
        for found in statuses:
            click.echo(json.dumps(_brief(found), ensure_ascii=False))
        return
    if not statuses:
        click.echo(f"no runs in {parent.absolute()}")
        return
    rows = [_row(_brief(found)) for found in statuses]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


async def _statuses(folders: list[Path]) -> list[RunStatus]:
    return [await run_status(folder) for folder in folders]


def _brief(found: RunStatus) -> dict[str, Any]:
    summary = found.summary
    return {
        "run_id": found.run_dir.name,
        "title": summary.title if summary else found.title,
        "state": found.state,
        "started_at": found.started_at,
        "written": found.written,
        "chapters": summary.chapters if summary else found.chapters,
        "cost_usd": round(found.cost_usd, 6),
        "run_dir": str(found.run_dir),
    }


def _row(brief: dict[str, Any]) -> list[str]:
    total = "?" if brief["chapters"] is None else str(brief["chapters"])
    return [
        brief["run_id"],
        brief["state"],
        f"{brief['written']}/{total} chapters",
        f"${brief['cost_usd']:.4f}",
        brief["title"],
    ]
