"""``orchestrator doctor``."""

from __future__ import annotations

import asyncio
import json

import click

from orchestrator.artifacts.folder import MIN_FREE_MB
from orchestrator.cli.errors import user_errors
from orchestrator.ops.doctor import diagnose


@click.command("doctor")
@click.argument("target", metavar="RUN-or-STATE-URL")
@click.option(
    "--min-free-mb",
    type=click.IntRange(0),
    default=MIN_FREE_MB,
    show_default=True,
    help="Fail the disk check below this much free space.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def doctor(target: str, min_free_mb: int, as_json: bool) -> None:
    """Check a run folder or a state store; exit 1 if any check fails.

    Store: opens, SQLite WAL / busy_timeout / schema / integrity_check, JSON
    parse and schema, valid content, no stale lease. Run folder: also its
    record and config, the manifest, temp files left behind. Both: free disk.
    """
    report = asyncio.run(diagnose(target, min_free_mb))
    click.echo(json.dumps(report.to_dict()) if as_json else report.render())
    if not report.ok:
        raise SystemExit(1)
