"""``run``, ``plan``, ``write``, ``resume``, ``status`` and ``verify``: writing a book
(at once, or planned first for the author to edit its outline) and looking at a run.

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
    from agents.schemas import Outline
    from orchestrator.cli.display import Display
    from orchestrator.run.novel import RunRequest
    from orchestrator.run.summary import RunSummary

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

run_dir_option = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The run folder (default: runs/<run-id> beside the project file).",
)


def run_output_options(func: F) -> F:
    """``--quiet`` and ``--json``, as ``run`` and ``resume`` take them."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print events and the summary as JSON lines."
    )(func)
    return click.option("--quiet", is_flag=True, help="Print only the run folder at the end.")(func)


@click.command("run")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path), required=False)
@run_dir_option
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
    from orchestrator.run.novel import run_novel

    _start(config_path, run_dir, overrides, quiet, as_json, run_novel, _summary_done)


@click.command("plan", short_help="Plan a novel and stop, for the author to edit its outline.")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@run_dir_option
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override one field of the project file, e.g. --set project.chapters=8 (repeatable).",
)
@run_output_options
@user_errors
def plan(
    config_path: Path, run_dir: Path | None, overrides: tuple[str, ...], quiet: bool, as_json: bool
) -> None:
    """Plan a novel and stop, for the author to edit its outline.

    The run folder then holds outline.yaml (one block per chapter: title, point of
    view, setting, cast, beats, changes, threads planted and paid off; its comments
    say what may be edited) and outline.md. Edit outline.yaml, then write the book
    from it with `orchestrator write RUN`. Exit 0 when planned, 2 for bad input.
    """
    from orchestrator.run.novel import plan_novel

    _start(config_path, run_dir, overrides, quiet, as_json, plan_novel, _planned_done)


def _start(
    config_path: Path,
    run_dir: Path | None,
    overrides: tuple[str, ...],
    quiet: bool,
    as_json: bool,
    work: Callable[[RunRequest, Display, MeteredClient], Coroutine[Any, Any, T]],
    done: Callable[[RunFolder, Display, T, bool, bool], int],
) -> None:
    """A new run of ``config_path``: every check, the folder, then ``work`` in it."""
    from agents.clients.metered import MeteredClient
    from orchestrator.project.clients import make_client
    from orchestrator.project.load import load_config
    from orchestrator.run.novel import RunRequest, check_start

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
        _execute(
            folder,
            client,
            quiet,
            as_json,
            lambda d: work(request, d, client),
            lambda d, result: done(folder, d, result, quiet, as_json),
        )
    except Exception:
        # Refused before it started (no run.json): what this run created goes again.
        if not folder.path(RUN_FILE).exists():
            folder.discard()
        raise


amend_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one field of the run's config from now on, e.g. --set llm.budget_usd=5 "
    "(repeatable; recorded in run.json). The story, its language and the store cannot change.",
)


@click.command("write", short_help="Write a planned novel from its outline, edited or not.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@amend_option
@run_output_options
@user_errors
def write(run_dir: Path, overrides: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Write a planned novel from its outline, edited or not.

    If outline.yaml was edited since `orchestrator plan`, it is checked first (an
    error names the line and the field: exit 2, nothing changed) and stored as a new
    version of the outline (every version stays in outlines/); then the book is
    written from it, as `orchestrator resume RUN` goes on with any run. Once chapters
    are written, an edited outline.yaml is for `orchestrator sync RUN`.
    """
    _resume(run_dir, overrides, quiet, as_json)


@click.command("resume", short_help="Go on with a run that stopped; committed work is kept.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@amend_option
@run_output_options
@user_errors
def resume(run_dir: Path, overrides: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Go on with a run that stopped: committed chapters are kept, the rest written.

    Chapters in flight when it died are redone; no delta is applied twice. A run its
    budget stopped goes on with --set llm.budget_usd=MORE. A finished run is left as it is.
    A planned run (`orchestrator plan`) is written as `orchestrator write RUN` writes it.
    """
    _resume(run_dir, overrides, quiet, as_json)


def _resume(run_dir: Path, overrides: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    from agents.clients.metered import MeteredClient
    from orchestrator.project.clients import make_client
    from orchestrator.project.load import load_config
    from orchestrator.run.amend import plan_amendment
    from orchestrator.run.novel import resume_novel

    folder = RunFolder.existing(run_dir)
    # An edited outline.yaml is checked before anything is written (or the run locked).
    asyncio.run(_check_outline(folder))
    if _say_if_finished(folder, overrides):
        return
    # Every check that can refuse the new values, before anything is written.
    amendment = plan_amendment(folder, overrides) if overrides else None
    config = amendment.config if amendment else load_config(folder.path("config.yaml"))
    client = MeteredClient(make_client(config, str(folder.path("config.yaml"))))
    folder.lock()
    _execute(
        folder,
        client,
        quiet,
        as_json,
        lambda d: resume_novel(folder, d, client, amendment),
        lambda d, summary: _summary_done(folder, d, summary, quiet, as_json),
    )


async def _check_outline(folder: RunFolder) -> None:
    """OutlineFileError for an edited outline.yaml that is not a valid outline of the run's
    project; OutlineEditedError for one edited after chapters were written."""
    from orchestrator.project.bible import load_run_config
    from orchestrator.run.outlines import outline_edit
    from state import open_state

    config = load_run_config(folder.root)  # a premise-only run's cast is in its bible.yaml
    async with open_state(folder.store_url(), create=False) as manager:
        await outline_edit(folder, manager, config)


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
    start: Callable[[Display], Coroutine[Any, Any, T]],
    done: Callable[[Display, T], int],
) -> None:
    """Run ``start`` with logs in the run folder and a display; exit with the code
    ``done`` gives once it has shown the outcome."""
    from orchestrator.cli.display import make_display
    from state import StateError

    logs.configure(level=logs.LOG_LEVEL.get(), json_file=folder.log_path)
    display = make_display(quiet=quiet, as_json=as_json, tokens=lambda: _tokens(client))
    try:
        result = asyncio.run(_closing(client, start(display)))
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
    raise SystemExit(done(display, result))


def _summary_done(
    _folder: RunFolder, display: Display, summary: RunSummary, _quiet: bool, _as_json: bool
) -> int:
    display.finish(summary)
    return summary.exit_code


def _planned_done(
    folder: RunFolder, _display: Display, outline: Outline, quiet: bool, as_json: bool
) -> int:
    """What ``plan`` prints last: where the outline is, and the command that goes on."""
    from agents.prompts import PromptLibrary
    from orchestrator.project.outline_file import OUTLINE_FILE
    from orchestrator.run.outlines import shown_path

    yaml_path, md_path = folder.path(OUTLINE_FILE), folder.path("outline.md")
    if as_json:
        record = {"event": "outline_ready", "run_dir": str(folder.root), "outline": str(yaml_path)}
        click.echo(json.dumps({**record, "chapters": len(outline.chapters)}, ensure_ascii=False))
    elif quiet:
        click.echo(str(folder.root))
    else:
        labels = PromptLibrary().labels(folder.language())
        yaml_shown, md_shown = shown_path(yaml_path), shown_path(md_path)
        run = shown_path(folder.root)
        click.echo(labels("outline_file.planned", yaml=yaml_shown, md=md_shown, run=run))
    return 0


async def _closing(client: MeteredClient, work: Coroutine[Any, Any, T]) -> T:
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
    """Show how a run stands: finished (its summary), failed, running (which process),
    planned (`orchestrator plan` stopped it, for the author to edit outline.yaml) or
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
