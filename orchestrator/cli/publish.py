"""``orchestrator publish``, ``rollback`` and ``history``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli.errors import user_errors
from orchestrator.cli.runs import RUN
from orchestrator.ops.publish import (
    GateFailedError,
    project_publish_folder,
    publish_folder_for,
    publish_run,
    render_event,
    rollback,
)
from orchestrator.ops.publish_folder import PublishFolder

_publish_dir = click.option(
    "--publish-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The publish folder (default: the project's publish.folder, relative to the project "
    "file, else runs/published).",
)
_config = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Take the publish folder from this project file (default: ./config.yaml if there is "
    "one), as publish does.",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _approval(func: Any) -> Any:
    func = click.option("--note", required=True, help="Why: recorded with the version in HISTORY.")(
        func
    )
    return click.option("--approver", required=True, help="Who approves: recorded by name.")(func)


def _folder(publish_dir: Path | None, config_path: Path | None) -> PublishFolder:
    if publish_dir is not None:
        return PublishFolder(publish_dir)
    return project_publish_folder(config_path)


@click.command("publish")
@click.argument("run_dir", metavar="RUN", type=RUN)
@_approval
@click.option("--force", is_flag=True, help="Publish even if the gate fails (recorded as forced).")
@_publish_dir
@_json
@user_errors
def publish(
    run_dir: Path, approver: str, note: str, force: bool, publish_dir: Path | None, as_json: bool
) -> None:
    """Publish a finished run's manuscript as the current version.

    The gate: the run finished, its manifest verifies, no chapter failed, and
    its continuity findings are within publish.max_findings. Exit 1 if the
    gate fails (nothing is recorded).
    """
    folder = RunFolder.existing(run_dir)
    target = PublishFolder(publish_dir) if publish_dir else publish_folder_for(folder)
    try:
        record = publish_run(folder, target, approver, note, force)
    except GateFailedError as exc:
        if as_json:
            click.echo(json.dumps({"published": False, "gate": [c.to_dict() for c in exc.checks]}))
        else:
            for check in exc.checks:
                click.echo(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps({"published": True, **record}, ensure_ascii=False))
        return
    forced = " (forced past the gate)" if record["forced"] else ""
    click.echo(f"published version {record['version']} of run {record['run_id']}{forced}")
    click.echo(f"  {target.root / 'CURRENT.json'}")


@click.command("rollback")
@_approval
@_publish_dir
@_config
@_json
@user_errors
def rollback_cmd(
    approver: str, note: str, publish_dir: Path | None, config_path: Path | None, as_json: bool
) -> None:
    """Make the version published before the current one current again."""
    event = rollback(_folder(publish_dir, config_path), approver, note)
    if as_json:
        click.echo(json.dumps(event, ensure_ascii=False))
    else:
        click.echo(f"rolled back: version {event['to_version']} is current again")


@click.command("history", short_help="Every publish and rollback, and the current version.")
@_publish_dir
@_config
@_json
@user_errors
def history(publish_dir: Path | None, config_path: Path | None, as_json: bool) -> None:
    """List every publish and rollback, oldest first, and the current version."""
    target = _folder(publish_dir, config_path)
    events = target.history()
    current = target.current()
    if as_json:
        payload = {"current": current["version"] if current else None, "events": events}
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    if not events:
        click.echo(f"nothing published yet in {target.root}")
        return
    number = current["version"] if current else None
    for event in events:
        click.echo(render_event(event, number))
