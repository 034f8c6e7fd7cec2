"""``orchestrator publish``, ``rollback`` and ``history``: a run's manuscript, approved.

Publishing runs a gate first: the run has finished, its manifest verifies, no
chapter failed, and its continuity findings are within the project's limit
(``publish.max_findings``). ``--force`` publishes anyway and the record says
so, with the checks that failed. A published version keeps copies of the
manuscript, the e-book and the manifest under ``v<N>/`` in the publish folder,
so it survives the run folder being cleaned up.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.artifacts.folder import SUMMARY_FILE, RunFolder
from orchestrator.artifacts.manifest import MANIFEST_FILE, ManifestError, verify
from orchestrator.errors import OrchestratorError
from orchestrator.ops.publish_folder import (
    PublishError,
    PublishFolder,
    active_versions,
    version_dir_name,
)
from orchestrator.project.load import load_config
from state.atomic import replace_file
from state.models import utc_iso

DEFAULT_FOLDER = Path("runs") / "published"
PROJECT_FILE = Path("config.yaml")  # the project file in the current folder, when there is one
_PUBLISHED_FILES = ("manuscript.md", "manuscript.epub", MANIFEST_FILE)


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One condition of the publish gate."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def publish_folder_for(folder: RunFolder) -> PublishFolder:
    """The publish folder the run's project names (relative to the project file)."""
    config = load_config(folder.path("config.yaml"))
    project_dir = Path(str(folder.run_meta().get("config", folder.root))).parent
    return PublishFolder(project_dir / (config.publish.folder or DEFAULT_FOLDER))


def project_publish_folder(config_path: Path | None) -> PublishFolder:
    """Where ``history`` and ``rollback`` look, as ``publish`` decides it: the project's
    publish folder (``--config``, else ``./config.yaml`` when there is one), else
    ``./runs/published``."""
    if config_path is None and PROJECT_FILE.is_file():
        config_path = PROJECT_FILE
    if config_path is None:
        return PublishFolder(DEFAULT_FOLDER)
    config = load_config(config_path)
    return PublishFolder(config_path.parent / (config.publish.folder or DEFAULT_FOLDER))


def gate(folder: RunFolder, max_findings: int, current: dict[str, Any] | None) -> list[GateCheck]:
    """The checks a run must pass to be published."""
    summary_path = folder.path(SUMMARY_FILE)
    if not summary_path.is_file():
        return [GateCheck("finished", False, "the run has not finished (no summary.json)")]
    summary = folder.read_json(SUMMARY_FILE)
    checks = [GateCheck("finished", True, f"finished at {summary.get('finished_at')}")]
    try:
        result = verify(folder)
        problems = result.missing + result.changed + result.unlisted
        detail = f"{result.checked} files match" if result.ok else "differs: " + ", ".join(problems)
        checks.append(GateCheck("manifest", result.ok, detail))
        digest = result.digest
    except ManifestError as exc:
        checks.append(GateCheck("manifest", False, str(exc)))
        digest = ""
    failed = list(summary.get("failed", []))
    checks.append(
        GateCheck(
            "chapters",
            not failed,
            f"chapters failed: {failed}" if failed else f"all {summary.get('chapters')} written",
        )
    )
    short = sorted(
        f.get("chapter") for f in summary.get("findings", []) if f.get("kind") == "short_chapter"
    )
    checks.append(
        GateCheck(
            "lengths",
            not short,
            f"chapters still short of their length: {short}"
            if short
            else "every chapter reaches its length",
        )
    )
    findings = len(summary.get("findings", []))
    checks.append(
        GateCheck(
            "findings",
            findings <= max_findings,
            f"{findings} continuity findings (limit {max_findings}, publish.max_findings)",
        )
    )
    repeat = current is not None and current.get("manifest_digest") == digest
    checks.append(
        GateCheck(
            "new_version",
            not repeat,
            f"already published as version {current['version']}"
            if repeat and current
            else "not the current version",
        )
    )
    return checks


def publish_run(
    folder: RunFolder, target: PublishFolder, approver: str, note: str, force: bool
) -> dict[str, Any]:
    """Gate, copy and record a new published version; returns its record."""
    config = load_config(folder.path("config.yaml"))
    with target.locked():
        target.sync_current()
        checks = gate(folder, config.publish.max_findings, target.current())
        failed = [c for c in checks if not c.ok]
        if failed and not force:
            raise GateFailedError(checks)
        if not folder.path("manuscript.md").is_file():
            raise PublishError(f"{folder.path('manuscript.md')} does not exist: nothing to publish")
        version = target.next_version()
        files = _copy_version(folder, target, version)
        manifest = _manifest_digest(folder)
        record = {
            "event": "publish",
            "version": version,
            "run_id": folder.run_id,
            "run_dir": str(folder.root),
            "manifest_digest": manifest,
            "approver": approver,
            "note": note,
            "at": utc_iso(),
            "forced": bool(failed),
            "gate": [c.to_dict() for c in checks],
            "files": files,
        }
        target.append(record)
        return record


def rollback(target: PublishFolder, approver: str, note: str) -> dict[str, Any]:
    """Make the version published before the current one current again."""
    with target.locked():
        stack = active_versions(target.history())
        if not stack:
            raise PublishError(f"nothing is published in {target.root}: nothing to roll back")
        if len(stack) == 1:
            raise PublishError(
                f"version {stack[0]['version']} is the only published version in "
                f"{target.root}: there is nothing to roll back to"
            )
        event = {
            "event": "rollback",
            "from_version": stack[-1]["version"],
            "to_version": stack[-2]["version"],
            "approver": approver,
            "note": note,
            "at": utc_iso(),
        }
        target.append(event)
        return event


class GateFailedError(OrchestratorError):
    """The run did not pass the publish gate (and --force was not given): a failure (exit 1)."""

    def __init__(self, checks: list[GateCheck]) -> None:
        self.checks = checks
        failed = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
        super().__init__(f"the run cannot be published: {failed} (--force publishes anyway)")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments: the default would pass the message alone
        return type(self), (self.checks,), self.__dict__


def _copy_version(folder: RunFolder, target: PublishFolder, version: int) -> dict[str, str]:
    """Copy the book's files into ``v<N>/``; their paths relative to the publish folder."""
    version_dir = target.root / version_dir_name(version)
    version_dir.mkdir(parents=True, exist_ok=True)
    copied = {}
    for name in _PUBLISHED_FILES:
        source = folder.path(name)
        if source.is_file():
            replace_file(version_dir / name, source.read_bytes())
            copied[name] = os.path.join(version_dir.name, name)
    return copied


def _manifest_digest(folder: RunFolder) -> str | None:
    try:
        return str(json.loads(folder.path(MANIFEST_FILE).read_text(encoding="utf-8"))["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def render_event(event: dict[str, Any], current: int | None) -> str:
    """One line of ``orchestrator history``."""
    when = str(event.get("at", ""))[:19].replace("T", " ")
    if event["event"] == "rollback":
        return (
            f"{when}  rollback  v{event['from_version']} -> v{event['to_version']}  "
            f"by {event['approver']}: {event['note']}"
        )
    mark = "  (current)" if event["version"] == current else ""
    forced = "  FORCED" if event.get("forced") else ""
    return (
        f"{when}  publish   v{event['version']}  run {event['run_id']}  "
        f"by {event['approver']}: {event['note']}{forced}{mark}"
    )
