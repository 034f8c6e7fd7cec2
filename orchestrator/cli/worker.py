"""``orchestrator worker``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
import structlog

from orchestrator.artifacts.folder import RUN_FILE, RunFolder, RunFolderError
from orchestrator.board.worker import WorkerSettings, work
from orchestrator.cli.errors import user_errors
from orchestrator.errors import EXIT_FAILED
from state.errors import StoreUnreachableError
from state.url import parse_state_url, with_default_namespace

log = structlog.get_logger("orchestrator.board.worker")

EXIT_INTERRUPTED = 130


@click.command("worker", short_help="Join a run from this or another machine and write.")
@click.argument("run", metavar="RUN")
@click.option(
    "--state",
    "url",
    default=None,
    metavar="URL",
    help="The run's state store (default: the one RUN's run.json names, when RUN is a folder). "
    "A redis:// URL without a namespace gets RUN as its namespace, as the run's own does.",
)
@click.option(
    "--writers",
    type=click.IntRange(1, 100),
    default=4,
    show_default=True,
    help="Chapters this worker writes at once.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field of the run's config for this worker, e.g. --set llm.base_url=...",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON lines.")
@user_errors
def worker(
    run: str, url: str | None, writers: int, overrides: tuple[str, ...], as_json: bool
) -> None:
    """Join the run RUN (its id, or its folder) and write chapters until it is done.

    Start it on any machine that reaches the run's store: Redis for several
    machines, or the run's SQLite file on this one. The model key comes from
    this machine's environment. Exit 0 when the run takes no more chapters.
    """
    run_id, store, folder = _run_and_store(run, url)
    settings = WorkerSettings(store, run_id, writers, overrides, folder)

    def emit(event: str, **fields: Any) -> None:
        log.info(event, **fields)
        if as_json:
            click.echo(json.dumps({"event": event, **fields}, ensure_ascii=False))
        else:
            detail = " ".join(f"{k}={v}" for k, v in fields.items())
            click.echo(f"{event} {detail}".rstrip())

    try:
        asyncio.run(work(settings, emit))
    except KeyboardInterrupt:
        click.echo("interrupted: chapters this worker was writing go to other writers", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except StoreUnreachableError as exc:
        click.echo(
            f"error: lost the state store {exc.location} ({exc.reason}; {exc.tries} tries over "
            f"{exc.waited_s:.1f}s); every chapter this worker committed is kept, the ones it "
            "was writing go to other writers. Start the worker again once the store is back",
            err=True,
        )
        raise SystemExit(EXIT_FAILED) from None


def _run_and_store(run: str, url: str | None) -> tuple[str, str, RunFolder | None]:
    """(run id, the store's full URL, the run folder if RUN is one) from RUN (an id or a
    run folder) and --state."""
    folder: RunFolder | None = None
    if (Path(run) / RUN_FILE).is_file():
        folder = RunFolder.existing(Path(run))
        run_id, url = folder.run_id, url or folder.store_url()
    elif url is None:
        raise RunFolderError(f"{run} is not a run folder here; give the run's store with --state")
    else:
        run_id = run
    url = with_default_namespace(url, run_id)
    return run_id, parse_state_url(url, Path.cwd()).full(secret=True), folder
