"""``orchestrator sync RUN``: the author edited chapters; revise only what the edits contradict."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli import logs
from orchestrator.cli.errors import user_errors
from orchestrator.cli.runs import RUN

if TYPE_CHECKING:
    from agents.clients.metered import MeteredClient
    from orchestrator.run.sync import SyncResult

T = TypeVar("T")
EXIT_INTERRUPTED = 130  # as run and resume: the shell's convention for SIGINT

Observer = Callable[[str, dict[str, Any]], None]


@click.command("sync", short_help="Bring a book in line with the author's edits.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option("--dry-run", is_flag=True, help="Print what would be done (and why); change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def sync(run_dir: Path, dry_run: bool, as_json: bool) -> None:
    """Bring a book in line with the author's edits.

    Finds the chapter files edited by hand (they no longer match their kept
    attempt) and the written chapters whose plan changed; reads what each
    edited chapter does with the run's extractor and commits it as an attempt
    by the author, the text kept byte for byte; writes the replanned chapters
    again; revises exactly the later chapters whose read sets the changes
    contradict (a chapter the author wrote is never revised: a finding says
    what contradicts it); then reassembles the book. The plan is printed first.
    --dry-run reads the edited chapters (one extractor call each) and changes
    nothing. Run it again after a kill: it goes on, and applies nothing twice.
    """
    from agents.clients.metered import MeteredClient
    from orchestrator.cli.display import PlainDisplay
    from orchestrator.project.bible import load_run_config
    from orchestrator.project.clients import make_client
    from orchestrator.run.sync import sync_run

    folder = RunFolder.existing(run_dir)
    config_path = folder.path("config.yaml")
    client = MeteredClient(make_client(load_run_config(folder.root), str(config_path)))
    observer: Observer = _quiet
    if not as_json:  # revisions and the continuity pass as they happen, on stderr
        display = PlainDisplay()
        display.labels = display.prompts.labels(folder.language())
        observer = display
    folder.lock()
    try:
        if not dry_run:
            logs.configure(level=logs.LOG_LEVEL.get(), json_file=folder.log_path)
        work = sync_run(folder, observer, client, dry_run, None if as_json else _print_plan)
        result = asyncio.run(_closing(client, work))
    except KeyboardInterrupt:
        click.echo(f"interrupted: run `orchestrator sync {folder.root}` again", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        folder.unlock()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.done:
        click.echo(result.render_outcome())


def _print_plan(result: SyncResult) -> None:
    """The plan, before the sync does anything."""
    click.echo(result.render_plan())


def _quiet(event: str, fields: dict[str, Any]) -> None:
    """The run's events go to its log only; sync prints its plan and its result."""


async def _closing(client: MeteredClient, work: Awaitable[T]) -> T:
    try:
        return await work
    finally:
        await client.aclose()  # in the loop that opened its connections
