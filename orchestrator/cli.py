"""The ``orchestrator`` command: a thin layer that configures logging and calls the library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import click

from orchestrator import logs
from orchestrator.bench_run import SCENARIOS
from orchestrator.bench_run import format_results as format_run_results
from orchestrator.bench_run import run_bench as run_bench_runs
from orchestrator.bench_state import DEFAULT_REDIS, BenchConfig, BenchResult, run_bench
from orchestrator.cli_bench_grow import bench_grow_options, run_grow_command
from orchestrator.cli_doctor import doctor
from orchestrator.cli_errors import resumable_stop, user_errors
from orchestrator.cli_metrics import metrics_group
from orchestrator.cli_publish import history, publish, rollback_cmd
from orchestrator.cli_state import state_migrate
from orchestrator.cli_worker import worker
from orchestrator.clients import make_client
from orchestrator.config import config_json_schema, load_config
from orchestrator.display import Display, make_display
from orchestrator.errors import EXIT_FAILED
from orchestrator.manifest import verify
from orchestrator.metered_client import MeteredClient
from orchestrator.rewind import rewind_run
from orchestrator.run import RunRequest, resume_novel, run_novel
from orchestrator.run_folder import RunFolder, new_run_id
from orchestrator.status import run_status
from orchestrator.summary import RunSummary
from state import StateError, open_state

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
LOG_LEVEL: ContextVar[str] = ContextVar("log_level", default="warning")


F = TypeVar("F", bound=Callable[..., Any])


def run_output_options(func: F) -> F:
    """``--quiet`` and ``--json``, as ``run`` and ``resume`` take them."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print events and the summary as JSON lines."
    )(func)
    return click.option("--quiet", is_flag=True, help="Print only the run folder at the end.")(func)


def temp_dir_option(what: str) -> Callable[[F], F]:
    """``--dir``: where a benchmark puts its temporary ``what``."""
    return click.option(
        "--dir",
        "folder",
        type=click.Path(exists=True, file_okay=False, writable=True, path_type=Path),
        default=None,
        help=f"Folder for the temporary {what} (default: the system temp folder).",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Console log level.",
)
def cli(log_level: str) -> None:
    """Plan, write and assemble novels with many LLM agents over one consistent story state."""
    LOG_LEVEL.set(log_level)
    logs.configure(level=log_level)


@cli.command("run")
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
        if config_path is not None or overrides or run_dir is not None:
            raise click.UsageError("--resume takes the run folder only (its config is in it)")
        _resume(resume_dir, quiet, as_json)
        return
    if config_path is None:
        raise click.UsageError("give the project file (CONFIG), or --resume RUN")
    config = load_config(config_path, overrides)
    client = MeteredClient(make_client(config, str(config_path)))
    run_id = run_dir.name if run_dir else new_run_id(config.project.title)
    folder = RunFolder.create(run_dir or config_path.parent / "runs" / run_id)
    folder.lock()
    request = RunRequest(config=config, config_path=config_path, folder=folder)
    _execute(folder, client, quiet, as_json, lambda d: run_novel(request, d, client))


@cli.command("resume")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@run_output_options
@user_errors
def resume(run_dir: Path, quiet: bool, as_json: bool) -> None:
    """Go on with a run that died: committed chapters are kept, the rest written.

    Chapters in flight when it died are redone; no delta is applied twice.
    """
    _resume(run_dir, quiet, as_json)


def _resume(run_dir: Path, quiet: bool, as_json: bool) -> None:
    folder = RunFolder.existing(run_dir)
    folder.lock()
    config = load_config(folder.path("config.yaml"))
    client = MeteredClient(make_client(config, str(folder.path("config.yaml"))))
    _execute(folder, client, quiet, as_json, lambda d: resume_novel(folder, d, client))


def _execute(
    folder: RunFolder,
    client: MeteredClient,
    quiet: bool,
    as_json: bool,
    start: Callable[[Display], Coroutine[Any, Any, RunSummary]],
) -> None:
    """Run ``start`` with logs in the run folder and a display; exit with the run's code."""
    logs.configure(level=LOG_LEVEL.get(), json_file=folder.log_path)
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


@cli.command("status")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def status(run_dir: Path, as_json: bool) -> None:
    """Show how a run stands: finished (its summary) or still running / interrupted."""
    report = asyncio.run(run_status(run_dir))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        click.echo(report.render())


@cli.command("verify")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def verify_run(run_dir: Path, as_json: bool) -> None:
    """Recompute every artifact's SHA-256 against MANIFEST.json; exit 1 on any mismatch."""
    result = verify(RunFolder.existing(run_dir))
    click.echo(json.dumps(result.to_dict()) if as_json else result.render())
    if not result.ok:
        raise SystemExit(1)


@cli.group()
def bench() -> None:
    """Benchmarks that print figures (never pass/fail on time)."""


@bench.command("state")
@click.option(
    "--backend",
    type=click.Choice(["json", "sqlite", "redis"]),
    default="sqlite",
    show_default=True,
    help="State backend to measure.",
)
@click.option(
    "--writers",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="Concurrent writers.",
)
@click.option(
    "--mode",
    type=click.Choice(["tasks", "processes"]),
    default="processes",
    show_default=True,
    help="Writers as asyncio tasks in one process, or as OS processes.",
)
@click.option(
    "--ops",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Read-modify-write transactions per writer.",
)
@click.option(
    "--durability",
    type=click.Choice(["full", "group", "normal", "off"]),
    default="full",
    show_default=True,
    help="full/group: every commit is on disk before it returns (group syncs after "
    "releasing the lock); normal/off: no fsync per commit.",
)
@temp_dir_option("store")
@click.option(
    "--redis",
    "redis_url",
    default=DEFAULT_REDIS,
    show_default=True,
    help="Redis server for --backend redis; a namespace of its own is used and deleted after.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@bench_grow_options
@user_errors
def bench_state(
    backend: str,
    writers: int,
    mode: str,
    ops: int,
    durability: str,
    folder: Path | None,
    redis_url: str,
    as_json: bool,
    grow: bool,
    steps: int,
) -> None:
    """Read-modify-write transactions/s, lock-wait percentiles and lost updates."""
    if grow:
        run_grow_command(backend, writers, mode, ops, durability, folder, as_json, steps)
        return
    config = BenchConfig(
        backend=backend,
        writers=writers,
        mode=mode,  # type: ignore[arg-type]
        ops=ops,
        durability=durability,
        folder=folder,
        redis_url=redis_url,
    )
    result = asyncio.run(run_bench(config))
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(format_bench(result))
    if result.lost_updates:
        raise SystemExit(1)


def format_bench(result: BenchResult) -> str:
    wait, hold = result.lock_wait, result.hold
    return "\n".join(
        [
            f"backend {result.backend} ({result.durability}), {result.writers} writers as "
            f"{result.mode}, {result.ops_per_writer} transactions each",
            f"  committed      {result.committed} in {result.elapsed_s:.2f} s = "
            f"{result.tx_per_s:,.0f} transactions/s",
            f"  lock wait ms   p50 {wait.get('p50_ms')}  p95 {wait.get('p95_ms')}  "
            f"p99 {wait.get('p99_ms')}  p99.9 {wait.get('p99.9_ms')}  max {wait.get('max_ms')}",
            f"  hold ms        p50 {hold.get('p50_ms')}  p99 {hold.get('p99_ms')}  "
            f"max {hold.get('max_ms')}",
            f"  lost updates   {result.lost_updates}",
            f"  state size     {result.state_bytes:,} bytes",
        ]
    )


@bench.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("config.yaml"),
    show_default=True,
    help="The project file the scenarios start from.",
)
@click.option(
    "--scenario",
    "scenarios",
    type=click.Choice(list(SCENARIOS)),
    multiple=True,
    help="Which scenario (repeatable; default: all). example: the file as is; parallel: "
    "100 chapters, 20 workers, 500 ms a call; serial: 300 chapters, sequential; workers: "
    "parallel written by 2 worker processes of 10 writers; serial-workers: 40 chapters, "
    "sequential, 500 ms a call, 1 worker of 1 writer.",
)
@click.option(
    "--repeat", type=click.IntRange(1, 20), default=3, show_default=True, help="Runs per scenario."
)
@temp_dir_option("runs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def bench_run(
    config_path: Path,
    scenarios: tuple[str, ...],
    repeat: int,
    folder: Path | None,
    as_json: bool,
) -> None:
    """Whole runs: wall time, ratio to the ideal, peak memory, prompt size vs budget."""
    load_config(config_path)  # a bad file is reported here, once, not by every child
    results = run_bench_runs(config_path, list(scenarios or SCENARIOS), repeat, folder)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results]))
    else:
        click.echo(format_run_results(results))


@cli.group("state")
def state_group() -> None:
    """Inspect or migrate a state store (json:///path, sqlite:///path)."""


state_group.add_command(state_migrate)
cli.add_command(metrics_group)


@state_group.command("snapshot")
@click.argument("url")
@click.option(
    "--as-of-chapter",
    type=click.IntRange(1),
    default=None,
    help="The state as the chapters before this one left it.",
)
@user_errors
def state_snapshot(url: str, as_of_chapter: int | None) -> None:
    """Print the story state as JSON."""

    async def read() -> dict[str, Any]:
        async with open_state(url, create=False) as manager:
            return (await manager.snapshot(as_of_chapter)).model_dump(mode="json")

    click.echo(json.dumps(asyncio.run(read()), indent=2, ensure_ascii=False))


@state_group.command("history")
@click.argument("url")
@click.option("--chapter", type=click.IntRange(1), default=None, help="Only this chapter.")
@click.option("--key", default=None, help="Only changes to this document, e.g. characters/Mara.")
@user_errors
def state_history(url: str, chapter: int | None, key: str | None) -> None:
    """Print the committed deltas, one JSON object per line."""

    async def read() -> list[str]:
        async with open_state(url, create=False) as manager:
            events = await manager.history(chapter=chapter, key=key)
            return [e.model_dump_json() for e in events]

    for line in asyncio.run(read()):
        click.echo(line)


@cli.group("config")
def config_group() -> None:
    """The project file: its JSON Schema, and a check of a file."""


@config_group.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the project file (for editors that validate YAML)."""
    click.echo(json.dumps(config_json_schema(), indent=2))


@config_group.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@user_errors
def config_check(path: Path) -> None:
    """Validate a project file; every problem is listed with its line and field path."""
    config = load_config(path)
    click.echo(
        f"{path}: ok ({config.project.title!r}, {config.project.chapters} chapters, "
        f"{len(config.characters)} characters)"
    )


@state_group.command("rollback")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--to-chapter",
    type=click.IntRange(1),
    required=True,
    help="Rewind to the state before this chapter; it and later chapters are written again.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def state_rollback(run_dir: Path, to_chapter: int, as_json: bool) -> None:
    """Rewind a run's story state to before a chapter, so it can be rewritten (by resume).

    The book's files from that chapter on move to superseded/; drafts stay.
    """
    folder = RunFolder.existing(run_dir)
    folder.lock()
    try:
        result = asyncio.run(rewind_run(folder, to_chapter))
    finally:
        folder.unlock()
    click.echo(json.dumps(result.to_dict()) if as_json else result.render())


for command in (publish, rollback_cmd, history, doctor, worker):
    cli.add_command(command)


def main() -> None:
    cli()
