"""``orchestrator state migrate``: registered on the ``state`` group by ``cli.py``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from orchestrator.cli_errors import user_errors
from orchestrator.migration import destination_url, is_run_folder, migrate_run, migrate_urls
from state.migrate import MigrationReport
from state.url import parse_state_url


@click.command("migrate")
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
