"""The files a finished run leaves for its author and reviewer: the summary
(``summary.json``, and what the terminal shows), the findings, and the
metrics (``metrics.json``: the store's lock waits, every model call, the
chapters)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents.clients.base import Usage
from agents.clients.journal import call_to_json
from agents.clients.metered import MeteredClient
from agents.schemas import ContinuityFinding
from agents.writer import HUMAN_AUTHOR
from orchestrator.artifacts.folder import SUMMARY_FILE, RunFolder, RunFolderError
from orchestrator.artifacts.manifest import MANIFEST_FILE
from orchestrator.project.config import ProjectConfig
from orchestrator.review.export import REPORT_HTML, REVIEW_JSON
from orchestrator.review.run_writing import run_writing
from orchestrator.run.incidents import run_incidents
from orchestrator.run.schedule import Schedule
from orchestrator.run.spending import BudgetReport
from orchestrator.run.summary import ChapterOutcome, ChapterStatus, RunSummary
from state import StateManager
from state.models import ChapterRecord, StoryState, utc_iso


def _outcomes(
    schedule: Schedule, usage: dict[int, Usage], records: Mapping[int, ChapterRecord]
) -> list[ChapterOutcome]:
    outcomes = []
    for number, slot in sorted(schedule.slots.items()):
        kept = slot.kept
        record = records.get(number, ChapterRecord(chapter=number))
        status: ChapterStatus = "failed"
        if kept is not None and kept.delta.author == HUMAN_AUTHOR:
            status = "edited"
        elif kept is not None:
            status = "written" if kept.attempt == 1 else "revised"
        outcomes.append(
            ChapterOutcome(
                chapter=number,
                title=kept.title if kept else "",
                status=status,
                attempts=slot.tries,
                kept_attempt=kept.attempt if kept else None,
                words=kept.word_count if kept else 0,
                prompt_tokens=kept.prompt_tokens if kept else 0,
                error=slot.error if kept is None else None,
                usage=usage.get(number, Usage()),
                continuations=record.continuations if kept else 0,
                stop_reason=record.stop_reason if kept else None,
            )
        )
    return outcomes


def build_summary(
    run_id: str,
    config: ProjectConfig,
    folder: RunFolder,
    url: str,
    schedule: Schedule,
    findings: list[ContinuityFinding],
    client: MeteredClient,
    paths: dict[str, Path],
    started_at: datetime,
    budget: BudgetReport | None = None,
    records: Mapping[int, ChapterRecord] | None = None,
    final_state: StoryState | None = None,
) -> RunSummary:
    """What the run did, as summary.json holds it and the terminal shows it.

    ``records``: the store's chapter records (continuations, stop reasons); ``final_state``:
    the story state at the end (its foreshadowing ledger), for the writing figures.
    """
    outcomes = _outcomes(schedule, client.usage_by_chapter(), records or {})
    finished_at = datetime.now(UTC)
    names = ["findings.json", "metrics.json", REVIEW_JSON, SUMMARY_FILE, MANIFEST_FILE]
    if config.orchestrator.html_report:
        names.append(REPORT_HTML)
    reports = {name.partition(".")[0]: folder.path(name) for name in names}
    return RunSummary(
        run_id=run_id,
        title=config.project.title,
        language=config.project.language,
        run_dir=str(folder.root),
        state_url=url,
        started_at=started_at,
        finished_at=finished_at,
        wall_s=round((finished_at - started_at).total_seconds(), 3),
        chapters=len(outcomes),
        written=sum(o.status != "failed" for o in outcomes),
        revised=sum(o.status == "revised" for o in outcomes),
        edited=sum(o.status == "edited" for o in outcomes),
        failed=[o.chapter for o in outcomes if o.status == "failed"],
        revisions=sum(max(0, o.attempts - 1) for o in outcomes),
        words=sum(o.words for o in outcomes),
        usage=client.usage(),
        model_calls=len(client.calls),
        critical_path_calls=client.critical_path,
        findings=findings,
        outline_source="config" if config.project.outline else "planner",
        paths={name: str(path) for name, path in {**paths, **reports}.items()},
        chapter_outcomes=outcomes,
        budget=budget,
        writing=run_writing(
            folder,
            [o.model_dump() for o in outcomes],
            [f.chapter for f in findings],
            config.project.language,
            config.project.target_words,
            None if final_state is None else final_state.foreshadowing.values(),
        ),
        retries_and_errors=run_incidents(folder, [call_to_json(call) for call in client.calls]),
    )


def write_reports(
    folder: RunFolder,
    summary: RunSummary,
    findings: list[ContinuityFinding],
    client: MeteredClient,
    manager: StateManager,
    config: ProjectConfig,
) -> None:
    """findings.json, metrics.json and summary.json, each written atomically."""
    folder.write_json("findings.json", [f.model_dump(mode="json") for f in findings])
    metrics = _metrics(summary, client, manager)
    metrics["state_thresholds"] = config.state.thresholds.model_dump(mode="json")
    folder.write_json("metrics.json", metrics)
    folder.write_json(SUMMARY_FILE, summary.model_dump(mode="json"))


def _metrics(summary: RunSummary, client: MeteredClient, manager: StateManager) -> dict[str, Any]:
    calls = [
        {**asdict(call), "usage": call.usage.model_dump()}
        for call in sorted(client.calls, key=lambda c: (c.session, c.started_s))
    ]
    return {
        "run_id": summary.run_id,
        "wall_s": summary.wall_s,
        "state": manager.metrics.snapshot(),
        "state_detail": manager.metrics.detail(),
        # Model call times are on the client's clock, state times on the store's: the offset,
        # and when the store's clock started on the wall clock (a review puts every process
        # of a resumed run on one clock, each call by its ``started_at``).
        "clock": {
            "llm_minus_state_s": _clock_offset(client, manager),
            "state_started_at": _wall_start(manager),
        },
        "llm": {
            "calls": calls,
            "usage": summary.usage.model_dump(),
            "critical_path_calls": client.critical_path,
        },
        "chapters": [o.model_dump(mode="json") for o in summary.chapter_outcomes],
    }


def _clock_offset(client: MeteredClient, manager: StateManager) -> float:
    """Seconds from the store's metrics origin (monotonic) to the client's (perf_counter)."""
    now_mono, now_perf = time.monotonic(), time.perf_counter()
    return round((client.origin - now_perf) - (manager.metrics.started - now_mono), 6)


def _wall_start(manager: StateManager) -> str:
    """When the store's metrics started (``time.monotonic`` origin), on the wall clock."""
    ago = time.monotonic() - manager.metrics.started
    return utc_iso(datetime.fromtimestamp(time.time() - ago, UTC))


def read_summary(run_dir: Path) -> RunSummary | None:
    """The summary of a finished run, or None while it runs (or if it died)."""
    folder = RunFolder(run_dir)
    if not folder.path(SUMMARY_FILE).exists():
        return None
    try:
        return RunSummary.model_validate(folder.read_json(SUMMARY_FILE))
    except ValidationError as exc:
        raise RunFolderError(f"{folder.path(SUMMARY_FILE)} is not a run summary: {exc}") from None
