"""``run``, ``resume``, ``status`` and ``verify``: writing a book and looking at a run.

What only writing needs (the run machinery, the model clients, the live display) is
imported inside ``run`` and ``resume``, so that ``status`` and ``verify`` start
without it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from orchestrator.artifacts.folder import RUN_FILE, RunFolder, new_run_id
from orchestrator.artifacts.manifest import verify
from orchestrator.cli import logs
from orchestrator.cli.errors import resumable_stop, user_errors
from orchestrator.cli.runs import RUN, latest_run
from orchestrator.errors import EXIT_FAILED
from orchestrator.run.status import run_status

if TYPE_CHECKING:
    from agents.clients.metered import MeteredClient
    from orchestrator.cli.display import Display
    from orchestrator.run.summary import RunSummary

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

F = TypeVar("F", bound=Callable[..., Any])


def run_output_options(func: F) -> F:
    """``--quiet`` and ``--json``, as ``run`` and ``resume`` take them."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print events and the summary as JSON lines."
    )(func)
    return click.option("--quiet", is_flag=True, help="Print only the run folder at the end.")(func)


@click.command("run")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path), required=False)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The run folder (default: runs/<run-id> beside the project file).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Go on with the run in this folder instead (same as `orchestrator resume RUN`).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override one field of the project file, e.g. --set llm.latency_ms=500 (repeatable).",
)
@run_output_options
@user_errors
def run(
    config_path: Path | None,
    run_dir: Path | None,
    resume_dir: Path | None,
    overrides: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Plan, write and assemble the novel a project file describes.

    Exit 0 when every chapter is written, 1 when some failed (the others are
    kept), 2 for bad input, 130 when interrupted (resume it later).
    """
    if resume_dir is not None:
        if config_path is not None or run_dir is not None:
            raise click.UsageError("--resume takes the run folder only (its config is in it)")
        _resume(resume_dir, overrides, quiet, as_json)
        return
    if config_path is None:
        raise click.UsageError("give the project file (CONFIG), or --resume RUN")
    from agents.clients.metered import MeteredClient
    from orchestrator.project.clients import make_client
    from orchestrator.project.load import load_config
    from orchestrator.run.novel import RunRequest, check_start, run_novel

    config = load_config(config_path, overrides)
    client = MeteredClient(make_client(config, str(config_path)))
    run_id = run_dir.name if run_dir else new_run_id(config.project.title)
    root = run_dir or config_path.parent / "runs" / run_id
    # Every check that can refuse the run, before anything is created.
    with logs.errors_only():
        asyncio.run(check_start(config, config_path, root))
    folder = RunFolder.create(root)
    try:
        folder.lock()
        request = RunRequest(config=config, config_path=config_path, folder=folder)
        _execute(folder, client, quiet, as_json, lambda d: run_novel(request, d, client))
    except Exception:
        # Refused before it started (no run.json): what this run created goes again.
        if not folder.path(RUN_FILE).exists():
            folder.discard()
        raise


@click.command("resume", short_help="Go on with a run that stopped; committed work is kept.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one field of the run's config from now on, e.g. --set llm.budget_usd=5 "
    "(repeatable; recorded in run.json). The story, its language and the store cannot change.",
)
@run_output_options
@user_errors
def resume(run_dir: Path, overrides: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Go on with a run that stopped: committed chapters are kept, the rest written.

    Chapters in flight when it died are redone; no delta is applied twice. A run its
    budget stopped goes on with --set llm.budget_usd=MORE. A finished run is left as it is.
    """
    _resume(run_dir, overrides, quiet, as_json)


def _resume(run_dir: Path, overrides: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    from agents.clients.metered import MeteredClient
    from orchestrator.project.clients import make_client
    from orchestrator.project.load import load_config
    from orchestrator.run.amend import plan_amendment
    from orchestrator.run.novel import resume_novel

    folder = RunFolder.existing(run_dir)
    if _say_if_finished(folder, overrides):
        return
    # Every check that can refuse the new values, before anything is written.
    amendment = plan_amendment(folder, overrides) if overrides else None
    config = amendment.config if amendment else load_config(folder.path("config.yaml"))
    client = MeteredClient(make_client(config, str(folder.path("config.yaml"))))
    folder.lock()
    _execute(folder, client, quiet, as_json, lambda d: resume_novel(folder, d, client, amendment))


def _say_if_finished(folder: RunFolder, overrides: tuple[str, ...]) -> bool:
    """A finished run (every chapter written) is not resumed: say so, change nothing."""
    from orchestrator.run.reports import read_summary

    summary = read_summary(folder.root)
    if summary is None or summary.exit_code != 0:
        return False
    from orchestrator.run.novel import check_unchanged

    check_unchanged(folder)  # damage is said, even for a finished run
    asyncio.run(_check_store(folder))
    ignored = " (the --set values were not applied)" if overrides else ""
    click.echo(
        f"{folder.root} is finished: {summary.written}/{summary.chapters} chapters written; "
        f"nothing to resume, nothing changed{ignored}"
    )
    return True


async def _check_store(folder: RunFolder) -> None:
    """Open the run's store and read it (StateError, naming it, when it cannot be), and
    refuse a store this folder may not write (a copy's original), as resume would."""
    from orchestrator.artifacts.ownership import check_claim
    from state import open_state

    url = folder.store_url()
    async with open_state(url, create=False) as manager:
        await manager.chapters()
        await check_claim(manager, folder, url)


def _execute(
    folder: RunFolder,
    client: MeteredClient,
    quiet: bool,
    as_json: bool,
    start: Callable[[Display], Coroutine[Any, Any, RunSummary]],
) -> None:
    """Run ``start`` with logs in the run folder and a display; exit with the run's code."""
    from orchestrator.cli.display import make_display
    from state import StateError

    logs.configure(level=logs.LOG_LEVEL.get(), json_file=folder.log_path)
    display = make_display(quiet=quiet, as_json=as_json, tokens=lambda: _tokens(client))
    try:
        summary = asyncio.run(_closing(client, start(display)))
    except KeyboardInterrupt:
        display.close()
        click.echo(f"interrupted: resume with `orchestrator resume {folder.root}`", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except (OSError, StateError) as exc:
        message = resumable_stop(exc, folder.root)
        if message is None:
            raise
        display.close()
        click.echo(message, err=True)
        raise SystemExit(EXIT_FAILED) from None
    finally:
        display.close()
        folder.unlock()
    display.finish(summary)
    raise SystemExit(summary.exit_code)


async def _closing(client: MeteredClient, work: Coroutine[Any, Any, RunSummary]) -> RunSummary:
    try:
        return await work
    finally:
        await client.aclose()  # in the loop that opened its connections


def _tokens(client: MeteredClient) -> int:
    usage = client.usage()
    return usage.input_tokens + usage.output_tokens + usage.cache_read_tokens


@click.command("status", short_help="How a run stands: finished, failed, running or interrupted.")
@click.argument("run_dir", metavar="[RUN]", type=RUN, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def status(run_dir: Path | None, as_json: bool) -> None:
    """Show how a run stands: finished (its summary), failed, running (which process) or
    interrupted, with its chapters, tokens and spend so far. RUN is a run folder or a run id
    under ./runs; without it, the run that started last there."""
    report = asyncio.run(run_status(run_dir or latest_run()))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        click.echo(report.render())


@click.command("verify", short_help="Check every file of a run against its manifest.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def verify_run(run_dir: Path, as_json: bool) -> None:
    """Recompute every artifact's SHA-256 against MANIFEST.json; exit 1 on any mismatch."""
    result = verify(RunFolder.existing(run_dir))
    click.echo(json.dumps(result.to_dict()) if as_json else result.render())
    if not result.ok:
        raise SystemExit(1)
