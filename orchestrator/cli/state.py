"""``orchestrator state``: look into a store, migrate it, rewind a run to before a chapter."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli.errors import user_errors
from orchestrator.cli.runs import RUN
from orchestrator.ops.adopt import adopt_run
from orchestrator.ops.migrate_run import destination_url, is_run_folder, migrate_run, migrate_urls
from orchestrator.ops.rewind import rewind_run
from state import MigrationReport, open_state
from state.url import parse_state_url


@click.group("state", short_help="Look into a store, migrate it, or rewind a run.")
def state_group() -> None:
    """Look into a state store, migrate it, or rewind a run (json://, sqlite://, redis://)."""


@state_group.command("migrate")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST_URL")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the documents of a destination that is not empty (its event history "
    "must be a prefix of the source's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def state_migrate(source: str, destination: str, force: bool, as_json: bool) -> None:
    """Copy a store to another backend, verify it, and switch the run to the copy.

    SRC is a run folder (its store, named in run.json, is migrated and the run
    is switched to DST_URL atomically) or a state URL. Every document and the
    whole event history are copied with their sequence numbers; a canonical
    digest is compared on both sides. The source is kept as a read-only
    backup. A destination that is not empty is refused unless --force.
    """
    if is_run_folder(source):
        report = asyncio.run(migrate_run(Path(source), destination, force))
    else:
        src = parse_state_url(source)
        report = asyncio.run(migrate_urls(src, destination_url(destination, src), force))
    click.echo(json.dumps(report.to_dict()) if as_json else describe(report, source))


def describe(report: MigrationReport, source: str) -> str:
    digest = report.digest
    lines = [
        f"migrated {report.source} -> {report.destination}",
        f"  copied    {digest.documents} documents, {digest.events} events "
        f"(last seq {digest.last_seq})",
        f"  verified  sha256 {digest.sha256} on both sides",
    ]
    if is_run_folder(source):
        lines.append(f"  switched  {Path(source) / 'run.json'} now names the new store")
    if report.source_marked:
        lines.append("  backup    the source is kept, marked read-only")
    else:
        lines.append("  backup    the source is kept but could not be marked read-only")
    return "\n".join(lines)


def _store(target: str) -> str:
    """A state URL as given, or the store of a run given by its folder or id."""
    if "://" in target:
        return target
    return RunFolder.existing(RUN.convert(target, None, None)).store_url()


@state_group.command("snapshot")
@click.argument("url", metavar="RUN-or-URL")
@click.option(
    "--as-of-chapter",
    type=click.IntRange(1),
    default=None,
    help="The state as the chapters before this one left it.",
)
@user_errors
def state_snapshot(url: str, as_of_chapter: int | None) -> None:
    """Print the story state as JSON (of a run's store, or of a store by its URL)."""

    async def read() -> dict[str, Any]:
        async with open_state(_store(url), create=False) as manager:
            return (await manager.snapshot(as_of_chapter)).model_dump(mode="json")

    click.echo(json.dumps(asyncio.run(read()), indent=2, ensure_ascii=False))


@state_group.command("history")
@click.argument("url", metavar="RUN-or-URL")
@click.option("--chapter", type=click.IntRange(1), default=None, help="Only this chapter.")
@click.option("--key", default=None, help="Only changes to this document, e.g. characters/Mara.")
@user_errors
def state_history(url: str, chapter: int | None, key: str | None) -> None:
    """Print the committed deltas, one JSON object per line (of a run, or a store's URL)."""

    async def read() -> list[str]:
        async with open_state(_store(url), create=False) as manager:
            events = await manager.history(chapter=chapter, key=key)
            return [e.model_dump_json() for e in events]

    for line in asyncio.run(read()):
        click.echo(line)


@state_group.command("rollback")
@click.argument("run_dir", metavar="RUN", type=RUN)
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


@state_group.command("adopt")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def state_adopt(run_dir: Path, as_json: bool) -> None:
    """Make a copied run folder a run of its own, with a new run id.

    A copy (cp -a runs/A runs/B) holds a copy of the store, which still belongs
    to the original; resume, state rollback, state migrate and worker refuse it
    until it is adopted. The new id is the folder's name (or a new one if that
    is the original's). The original is not touched.
    """
    folder = RunFolder.existing(run_dir)
    folder.lock()
    try:
        result = asyncio.run(adopt_run(folder))
    finally:
        folder.unlock()
    click.echo(json.dumps(result.to_dict()) if as_json else result.render())
