"""``orchestrator worker``: a process, on this machine or another, that joins a run.

A worker needs nothing but the run's state store: the config it builds its
writer from and the chapter jobs are there (``orchestrator.board.jobs``). It
takes the lowest open job whose lease is free or stale, writes the chapter
with its own model client, and commits the delta fenced by the lease; the
outcome it leaves carries the draft and the model calls, which the
coordinator folds into the run. It says it is alive every ``HEARTBEAT_S``,
so the coordinator opens as many jobs as there are writers, renews its
leases as the run does, and leaves when the run stops taking chapters.
Killed, its leases run out and its chapters are taken over; what it
committed stays committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml

from agents.clients.metered import MeteredClient
from agents.extractor import ChapterExtractor
from agents.prompts import PromptLibrary
from agents.writer import ChapterWriter
from orchestrator.artifacts.folder import RunFolder, RunFolderError
from orchestrator.artifacts.ownership import check_owner
from orchestrator.board.attempt import Failed, Lost, Ship, write_attempt
from orchestrator.board.jobs import HEARTBEAT_S, Claim, JobBoard, chapter_lease_name
from orchestrator.board.leases import ChapterLeases
from orchestrator.project.briefs import (
    agent_settings,
    context_budget,
    length_rule,
    project_brief,
)
from orchestrator.project.clients import make_client
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import parse_config
from state import Holder, StateError, StateManager, open_state
from state.errors import StoreMigratedError
from state.url import parse_state_url

log = structlog.get_logger("orchestrator.board.worker")

Emit = Callable[..., None]


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    url: str  # the run's store, with its secret if it has one
    run_id: str
    writers: int = 4  # chapters written at once
    overrides: Sequence[str] = ()  # --set PATH=VALUE over the run's config (e.g. llm.base_url)
    folder: RunFolder | None = None  # the run folder it was given, if any (a copy is refused)


@dataclass
class WorkerReport:
    """What one worker did: (chapter, attempt) pairs."""

    written: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, int]] = field(default_factory=list)
    lost: list[tuple[int, int]] = field(default_factory=list)  # taken over by another writer

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "failed": self.failed, "lost": self.lost}


async def work(settings: WorkerSettings, emit: Emit) -> WorkerReport:
    """Write the run's chapters until it stops taking them; follow the run's store when
    the run migrates it (to Redis, say) while the worker works."""
    url, holder, report = settings.url, Holder.this_process(), WorkerReport()
    while True:
        try:
            return await _work_on(url, settings, holder, report, emit)
        except StoreMigratedError as exc:
            # Same holder: the leases the migration copied are still this worker's.
            emit("store_moved", to=exc.moved_to)
            url = parse_state_url(exc.moved_to, Path.cwd()).full(secret=True)


async def _work_on(
    url: str, settings: WorkerSettings, holder: Holder, report: WorkerReport, emit: Emit
) -> WorkerReport:
    async with open_state(url, create=False) as manager:
        await _check_run(manager, settings)
        board = JobBoard(manager)
        config = await _run_config(board, settings, emit)
        if config is None:
            return report
        client = MeteredClient(make_client(config, "the run's config (meta/config)"))
        try:
            worker = _Worker(manager, board, config, client, settings, report, emit)
            return await worker.run(holder)
        finally:
            await client.aclose()


async def _check_run(manager: StateManager, settings: WorkerSettings) -> None:
    claimed = await manager.meta("run")
    if claimed is None:
        raise RunFolderError(f"the state store {manager.url} holds no run yet; start it first")
    if claimed.get("run_id") != settings.run_id:
        raise RunFolderError(
            f"the state store {manager.url} holds run {claimed.get('run_id')!r}, "
            f"not {settings.run_id!r}"
        )
    if settings.folder is not None:
        await check_owner(manager, settings.folder, manager.url)


async def _run_config(
    board: JobBoard, settings: WorkerSettings, emit: Emit
) -> ProjectConfig | None:
    """The run's config (with the worker's overrides); None once the run has finished."""
    said = False
    while (writing := await board.writing()) is None:
        if not said:
            said = True
            emit("worker_waiting", reason="the run has not started writing")
        await asyncio.sleep(1.0)
    if not writing:
        emit("worker_done", reason="the run takes no more chapters")
        return None
    doc = await board.run_config()
    if doc is None:
        raise RunFolderError(f"run {settings.run_id} keeps no config in its store")
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return parse_config(text, "the run's config (meta/config)", settings.overrides)


class _Worker:
    def __init__(
        self,
        manager: StateManager,
        board: JobBoard,
        config: ProjectConfig,
        client: MeteredClient,
        settings: WorkerSettings,
        report: WorkerReport,
        emit: Emit,
    ) -> None:
        self.manager = manager
        self.board = board
        self.settings = settings
        self.client = client
        self.emit = emit
        self.poll_s = config.orchestrator.poll_seconds
        self.lease_s = config.orchestrator.lease_seconds
        prompts, brief = PromptLibrary(), project_brief(config)
        self.writer = ChapterWriter(
            client,
            prompts,
            brief,
            agent_settings(config, "writer"),
            context_budget(config),
            extractor=ChapterExtractor(client, prompts, brief, agent_settings(config, "extractor")),
            length=length_rule(config),
        )
        self.report = report  # kept across the stores the worker follows

    async def run(self, holder: Holder) -> WorkerReport:
        async with ChapterLeases(self.manager, self.lease_s, self.emit, holder) as leases:
            self.emit("worker_joined", writer=leases.holder.label(), writers=self.settings.writers)
            beat = asyncio.create_task(self._heartbeat(leases))
            tasks: dict[int, asyncio.Task[None]] = {}
            try:
                await self._loop(leases, tasks)
            finally:
                for task in [beat, *tasks.values()]:
                    task.cancel()
                await asyncio.gather(beat, *tasks.values(), return_exceptions=True)
                with contextlib.suppress(StateError):
                    await self.board.leave(leases.holder)
        self.emit("worker_done", **self.report.to_dict())
        return self.report

    async def _loop(self, leases: ChapterLeases, tasks: dict[int, asyncio.Task[None]]) -> None:
        while True:
            writing = await self.board.writing()
            if not writing and not tasks:
                return
            if writing and len(tasks) < self.settings.writers:
                for claim in await self._claim_free(leases, tasks):
                    assert claim.job is not None
                    tasks[claim.job.plan.number] = asyncio.create_task(self._write(leases, claim))
            if tasks:
                done, _ = await asyncio.wait(
                    tasks.values(), timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                for chapter, task in list(tasks.items()):
                    if task in done:
                        del tasks[chapter]
                        task.result()  # a store error ends the worker
            else:
                await asyncio.sleep(self.poll_s)

    async def _claim_free(
        self, leases: ChapterLeases, tasks: dict[int, asyncio.Task[None]]
    ) -> list[Claim]:
        """Claims of the lowest open jobs nobody live is writing, for the free writers."""
        jobs = await self.board.open_jobs()
        if not jobs:
            return []
        held = {
            lease.name
            for lease in await self.manager.leases()
            if not lease.stale() and lease.holder.token != leases.holder.token
        }
        claims: list[Claim] = []
        for chapter, attempt in jobs:
            if len(tasks) + len(claims) >= self.settings.writers:
                break
            if chapter in tasks or chapter_lease_name(chapter) in held:
                continue
            claim = await leases.take(self.board, chapter, attempt)
            if claim.lease is not None and claim.job is not None:
                claims.append(claim)
        return claims

    async def _write(self, leases: ChapterLeases, claim: Claim) -> None:
        assert claim.lease is not None
        assert claim.job is not None
        number, attempt = claim.job.plan.number, claim.job.attempt
        self.emit("chapter_started", chapter=number, attempt=attempt)
        result = await write_attempt(
            self.writer,
            self.board,
            leases,
            claim.job,
            claim.lease,
            ship=Ship(self.client.calls_of),
        )
        if isinstance(result, Lost):
            self.report.lost.append((number, attempt))
            self.emit("lease_lost", chapter=number, attempt=attempt, error=result.error)
        elif isinstance(result, Failed):
            self.report.failed.append((number, attempt))
            self.emit("chapter_failed", chapter=number, attempt=attempt, error=result.error)
        else:
            self.report.written.append((number, attempt))
            words = result.draft.word_count
            self.emit("chapter_committed", chapter=number, attempt=attempt, words=words)

    async def _heartbeat(self, leases: ChapterLeases) -> None:
        while True:
            try:
                await self.board.heartbeat(leases.holder, self.settings.writers)
            except StateError as exc:  # the next beat tries again
                log.warning("worker_heartbeat_failed", error=str(exc))
            await asyncio.sleep(HEARTBEAT_S)
