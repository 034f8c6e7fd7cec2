"""``orchestrator bench``: benchmarks that print figures (never pass/fail on time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from orchestrator.bench.continuity import ContinuityConfig, format_continuity, run_continuity
from orchestrator.bench.grow import GrowConfig, format_grow, run_grow
from orchestrator.bench.references import format_comparison, run_compared
from orchestrator.bench.runs import DEFAULT_SCENARIOS, SCENARIOS
from orchestrator.bench.runs import format_results as format_run_results
from orchestrator.bench.runs import run_bench as run_bench_runs
from orchestrator.bench.store import DEFAULT_REDIS, BenchConfig, format_result, run_bench
from orchestrator.bench.sync import SyncBenchConfig, format_sync_bench, run_sync_bench
from orchestrator.cli.errors import user_errors
from orchestrator.project.load import load_config
from orchestrator.run.recheck import open_book

F = TypeVar("F", bound=Callable[..., Any])
GROW_BACKENDS = ("json", "sqlite")


def temp_dir_option(what: str) -> Callable[[F], F]:
    """``--dir``: where a benchmark puts its temporary ``what``."""
    return click.option(
        "--dir",
        "folder",
        type=click.Path(exists=True, file_okay=False, writable=True, path_type=Path),
        default=None,
        help=f"Folder for the temporary {what} (default: the system temp folder).",
    )


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
        backends=(backend,) if given else GROW_BACKENDS,
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


@click.group()
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
@click.option(
    "--reference",
    is_flag=True,
    help="Also run the plainest correct loop for the backend (plain sqlite3, flock and "
    "rename, redis-py WATCH/MULTI/EXEC) with the same writers and durability, interleaved "
    "with the store, and print both and their ratio.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="With --reference: rounds of reference then store.",
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
    reference: bool,
    rounds: int,
    as_json: bool,
    grow: bool,
    steps: int,
) -> None:
    """Read-modify-write transactions/s, lock-wait percentiles and lost updates."""
    if grow and reference:
        raise click.UsageError("--reference measures one store, not --grow's steps")
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
    if reference:
        comparison = asyncio.run(run_compared(config, rounds))
        click.echo(json.dumps(comparison.to_dict()) if as_json else format_comparison(comparison))
        if comparison.lost_updates:
            raise SystemExit(1)
        return
    result = asyncio.run(run_bench(config))
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(format_result(result))
    if result.lost_updates:
        raise SystemExit(1)


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
    help="Which scenario (repeatable; default: all but long). example: the file as is; "
    "parallel: 100 chapters, 20 workers, 500 ms a call; serial: 300 chapters, sequential; "
    "long: 1,000 chapters, sequential (about a minute a run); workers: "
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
    results = run_bench_runs(config_path, list(scenarios or DEFAULT_SCENARIOS), repeat, folder)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results]))
    else:
        click.echo(format_run_results(results))


@bench.command("continuity")
@click.option(
    "--chapters",
    type=click.IntRange(4, 200),
    default=16,
    show_default=True,
    help="Chapters of the offline book the contradictions are injected into.",
)
@click.option(
    "--trials",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Contradictions injected of each kind (a death, a move, a lost item), one at a time.",
)
@click.option(
    "--drift",
    type=click.FloatRange(0.0, 1.0),
    default=0.2,
    show_default=True,
    help="The offline model's drift while the book is written (the noise).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the book and trials.")
@click.option(
    "--language",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of the generated project.",
)
@temp_dir_option("run")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def bench_continuity(
    chapters: int,
    trials: int,
    drift: float,
    seed: int,
    language: str,
    folder: Path | None,
    as_json: bool,
) -> None:
    """Inject known contradictions into an offline book; what the read sets and the editor catch.

    Prints, per kind and overall, the contradictions injected, caught by the read-set check
    (the chapters it would revise) and by the continuity editor, recall, false findings and
    precision.
    """
    config = ContinuityConfig(
        chapters=chapters,
        trials=trials,
        drift=drift,
        seed=seed,
        language=language,  # type: ignore[arg-type]
        folder=folder,
    )
    result = asyncio.run(run_continuity(config, open_book))
    click.echo(json.dumps(result.to_dict()) if as_json else format_continuity(result))


@bench.command("sync")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("config.yaml"),
    show_default=True,
    help="The project file the offline book is written from.",
)
@click.option(
    "--chapters", type=click.IntRange(2, 1000), default=100, show_default=True,
    help="Chapters of the book.",
)  # fmt: skip
@click.option(
    "--edit-chapter", type=click.IntRange(1), default=10, show_default=True,
    help="The chapter the author edits (a character on stage goes elsewhere).",
)  # fmt: skip
@click.option(
    "--latency-ms", type=click.IntRange(0), default=100, show_default=True,
    help="The offline model's latency per call.",
)  # fmt: skip
@click.option(
    "--edit", type=click.Choice(["move", "death"]), default="move", show_default=True,
    help="What the author's sentence does to the chapter's point-of-view character.",
)  # fmt: skip
@temp_dir_option("runs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def bench_sync(
    config_path: Path,
    chapters: int,
    edit_chapter: int,
    latency_ms: int,
    edit: str,
    folder: Path | None,
    as_json: bool,
) -> None:
    """An author's edit: chapters revised by sync against those a rollback rewrites.

    Writes an offline book, moves (or kills) the point-of-view character of chapter
    --edit-chapter by a sentence the author adds, and syncs; on a copy, state rollback
    --to-chapter and resume. Prints the chapters each rewrote and the wall time of each.
    """
    load_config(config_path)
    if edit_chapter > chapters:
        raise click.BadParameter(f"the book has {chapters} chapters", param_hint="--edit-chapter")
    config = SyncBenchConfig(config_path, chapters, edit_chapter, latency_ms, folder, edit)
    result = run_sync_bench(config)
    click.echo(json.dumps(result.to_dict()) if as_json else format_sync_bench(result))
