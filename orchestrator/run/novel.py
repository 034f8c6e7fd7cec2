"""``orchestrator run``: one novel from project file to manuscript, in a run folder.

The steps: make the run folder, open the state store, plan (or take the
config's outline), initialize the story state, write every chapter, run the
continuity pass, assemble the manuscript, and write the findings, metrics and
summary. Every file goes through ``RunFolder``, so each is written atomically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import yaml

from agents.bible import BibleWriter
from agents.clients.journal import JOURNAL_FILE
from agents.clients.metered import MeteredClient
from agents.prompts import PromptLibrary
from agents.schemas import ChapterDraft, Outline, ProjectBrief
from agents.writer import HUMAN_AUTHOR
from orchestrator.artifacts.assemble import assemble
from orchestrator.artifacts.book import Book, BookChapter
from orchestrator.artifacts.folder import (
    RUN_FILE,
    RunFolder,
    RunFolderError,
    ensure_disk_space,
)
from orchestrator.artifacts.manifest import MANIFEST_FILE, verify, write_manifest
from orchestrator.artifacts.ownership import check_claim, claim_store
from orchestrator.project.bible import (
    BIBLE_FILE,
    bible_brief,
    bible_yaml,
    load_run_config,
    with_bible,
)
from orchestrator.project.briefs import (
    agent_settings,
    context_budget,
    given_outline,
    initial_state,
    length_rule,
    project_brief,
)
from orchestrator.project.clients import is_paid, run_prices
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import load_bible
from orchestrator.project.outline_file import OUTLINE_FILE
from orchestrator.review.export import write_run_review
from orchestrator.run.amend import Amendment, record_amendment
from orchestrator.run.contradictions import RevisionRule
from orchestrator.run.coordinator import AgentsSettings, Coordinator, Observer
from orchestrator.run.outlines import latest_version_file, outline_edit, store_outline
from orchestrator.run.reports import build_summary, write_reports
from orchestrator.run.restore import restore_chapters
from orchestrator.run.schedule import Schedule
from orchestrator.run.spending import SpendingLimit, first_attempt_estimate
from orchestrator.run.store_watch import StoreWatch
from orchestrator.run.summary import RunSummary
from state import StateManager, open_state
from state.atomic import stale_temp_files
from state.models import StoryState, utc_iso
from state.url import parse_state_url, with_default_namespace

log = structlog.get_logger("orchestrator.run.novel")


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What ``orchestrator run`` was asked to do."""

    config: ProjectConfig
    config_path: Path
    folder: RunFolder  # already created (RunFolder.create), so logs can go in it
    amendment: Amendment | None = None  # a resume's --set, already recorded in the folder

    @property
    def run_id(self) -> str:
        return self.folder.run_id


def state_url(
    config: ProjectConfig, folder: RunFolder, base_dir: Path, secret: bool = False
) -> str:
    """The run's state store, as a full URL: the config's (relative to ``base_dir``), else
    SQLite in the run folder. A Redis URL without a namespace gets the run's id as its
    namespace, so runs on one server never share a store. Without ``secret``, no password:
    what the run folder records."""
    url = config.state.url or f"sqlite://{folder.state_path}"
    if "durability=" not in url:
        url += ("&" if "?" in url else "?") + f"durability={config.state.durability}"
    return parse_state_url(with_default_namespace(url, folder.run_id), base_dir).full(secret)


async def check_start(config: ProjectConfig, config_path: Path, root: Path) -> None:
    """Every refusal a new run in ``root`` can meet, before anything of it is created:
    the folder (a file, or one that holds a run), the free disk where it will be made,
    and a configured state store (reached, and not another run's). The default store,
    SQLite in the new folder, has nothing to reach yet. The project file, its API key and
    prices are checked before this (``load_config``, ``make_client``)."""
    RunFolder.check_new(root)
    ensure_disk_space(root, config.orchestrator.min_free_mb)
    if config.state.url is None:
        return
    folder = RunFolder(root)  # paths only: nothing is made
    url = state_url(config, folder, config_path.parent)
    opening = state_url(config, folder, config_path.parent, secret=True)
    parsed = parse_state_url(opening)
    server = parsed.redis is not None
    if not server and not parsed.path.exists():
        return  # a file store the run will create: nothing there to refuse it
    # A server store is opened as the run will open it (an empty store in the run's own
    # namespace, if none is there); a file store is only read.
    async with open_state(opening, create=server) as manager:
        await check_claim(manager, folder, url, new_run=True)


async def run_novel(request: RunRequest, observer: Observer, client: MeteredClient) -> RunSummary:
    """Run the whole book; the summary is also in ``summary.json``."""
    started_at = datetime.now(UTC)
    folder, config = request.folder, request.config
    url = state_url(config, folder, request.config_path.parent)
    ensure_disk_space(folder.root, config.orchestrator.min_free_mb)
    with call_journal(client, folder):
        return await _run(request, observer, client, url, started_at)


async def _run(
    request: RunRequest, observer: Observer, client: MeteredClient, url: str, started_at: datetime
) -> RunSummary:
    folder, config = request.folder, request.config
    # A password in the config's URL opens the store; it is never written anywhere.
    opening = state_url(config, folder, request.config_path.parent, secret=True)
    async with open_state(opening) as manager:
        coordinator, request = await _begin(request, observer, client, manager, url, started_at)
        config = request.config
        await coordinator.board.open_run(config_for_workers(config))
        watch = store_watch(request, manager, url, observer)
        _started(coordinator, request, "run_started")
        _say_if_unbudgeted(coordinator, request)
        outline = await _outline(coordinator, request, manager)
        initial = initial_state(config, outline)
        await _initialize(manager, request, initial)
        schedule = await coordinator.write_book(outline, initial)
        return await finish_book(coordinator, request, watch, outline, schedule, started_at)


async def plan_novel(request: RunRequest, observer: Observer, client: MeteredClient) -> Outline:
    """``orchestrator plan``: a new run up to its stored outline, then stop. The run folder
    then holds ``outline.yaml`` for the author to edit; ``write`` (or ``resume``) goes on."""
    started_at = datetime.now(UTC)
    folder, config = request.folder, request.config
    url = state_url(config, folder, request.config_path.parent)
    ensure_disk_space(folder.root, config.orchestrator.min_free_mb)
    opening = state_url(config, folder, request.config_path.parent, secret=True)
    with call_journal(client, folder):
        async with open_state(opening) as manager:
            begun = await _begin(request, observer, client, manager, url, started_at)
            coordinator, request = begun
            _started(coordinator, request, "run_started")
            _say_if_unbudgeted(coordinator, request)
            outline = await _outline(coordinator, request, manager)
            await _initialize(manager, request, initial_state(request.config, outline))
            return outline


async def _begin(
    request: RunRequest,
    observer: Observer,
    client: MeteredClient,
    manager: StateManager,
    url: str,
    started_at: datetime,
) -> tuple[Coordinator, RunRequest]:
    """Make the folder a run of this store (run.json), give the request a cast (the story
    bible, for a project without one), and make its coordinator."""
    folder, config = request.folder, request.config
    await claim_store(manager, folder, url, new_run=True)
    # Only now is the folder a run: a run refused above can be retried in it.
    recorded = url if config.state.url else folder.record_url(url)
    _write_run_file(folder, request, recorded, started_at)
    request = await _with_cast(request, client, observer)
    return make_coordinator(request, client, manager, folder, observer), request


async def resume_novel(
    folder: RunFolder,
    observer: Observer,
    client: MeteredClient,
    amendment: Amendment | None = None,
) -> RunSummary:
    """Go on with a run that died: committed chapters are kept, the others written.

    The config is the one the run used (``config.yaml`` in its folder), changed first by
    ``amendment`` (``resume --set``, recorded in the folder), and the store the one
    ``run.json`` names (the folder's own, if it is in the folder); a chapter is never
    applied twice, since every new attempt has a new idempotency key.
    """
    started_at = datetime.now(UTC)
    url = folder.store_url()
    _check_resumable(folder)
    _check_bible_file(folder)  # an author's edit is checked before anything changes
    if amendment is not None:
        record_amendment(folder, amendment)
    request = RunRequest(
        load_run_config(folder.root), folder.path("config.yaml"), folder, amendment
    )
    ensure_disk_space(folder.root, request.config.orchestrator.min_free_mb)
    with call_journal(client, folder):
        return await _resume(request, observer, client, url, started_at)


async def _resume(
    request: RunRequest, observer: Observer, client: MeteredClient, url: str, started_at: datetime
) -> RunSummary:
    folder = request.folder
    async with open_state(url, create=False) as manager:
        await claim_store(manager, folder, url)
        await _check_bible_kept(manager, request)
        request = await _with_cast(request, client, observer)
        coordinator = make_coordinator(request, client, manager, folder, observer)
        watch = store_watch(request, manager, url, observer)
        _started(coordinator, request, "run_resumed")
        _say_if_unbudgeted(coordinator, request)
        if request.amendment is not None and request.amendment.changes:
            changed = [change.to_dict() for change in request.amendment.changes]
            coordinator.emit(
                "config_changed", set=list(request.amendment.overrides), changed=changed
            )
        outline = await _outline(coordinator, request, manager)
        outline = await _take_outline_edit(coordinator, request, manager, outline)
        await _initialize(manager, request, initial_state(request.config, outline))
        initial = await manager.snapshot(as_of_chapter=1)
        await _wait_for_joined_writers(coordinator, request.config.orchestrator.poll_seconds)
        await coordinator.board.open_run(config_for_workers(request.config))
        restored = await restore_chapters(manager, folder, request.config.project.language)
        kept = sorted(n for n, chapter in restored.items() if chapter.kept is not None)
        coordinator.emit("chapters_restored", kept=kept)
        schedule = await coordinator.write_book(outline, initial, restored)
        return await finish_book(coordinator, request, watch, outline, schedule, started_at)


async def _with_cast(request: RunRequest, client: MeteredClient, observer: Observer) -> RunRequest:
    """The request with a cast: the project's own; else the run folder's ``bible.yaml``; else
    a bible the model proposes from the premise, written there first (so a resume never
    asks for it again, and the author may edit it)."""
    config, folder = request.config, request.folder
    if config.characters:
        return request
    path = folder.path(BIBLE_FILE)
    if not path.exists():
        _tell(observer, "bible_proposing", title=config.project.title)
        prompts = PromptLibrary()
        agent = BibleWriter(
            client, prompts, config.project.language, agent_settings(config, "bible")
        )
        proposed = await agent.propose(bible_brief(config))
        folder.write_text(BIBLE_FILE, bible_yaml(proposed, config))
        bible = load_bible(path)  # the run goes on from what the file says
        language, count = config.project.language, len(bible.characters)
        _tell(observer, "bible_written", path=str(path), characters=count, language=language)
    else:
        bible = load_bible(path)
    return replace(request, config=with_bible(config, bible))


def _check_bible_file(folder: RunFolder) -> None:
    """ConfigError (line and field) when the run folder has a ``bible.yaml`` that does not
    validate."""
    path = folder.path(BIBLE_FILE)
    if path.exists():
        load_bible(path)


async def _check_bible_kept(manager: StateManager, request: RunRequest) -> None:
    """Once the book is planned (the story state holds the cast: ``plan`` and ``run`` set it
    with the outline), ``bible.yaml`` is what the outline and the chapters were made with:
    an edit after that is refused, nothing changed."""
    kept = await manager.meta("bible")
    if kept is None:
        return
    path = request.folder.path(BIBLE_FILE)
    if not request.config.characters:
        raise RunFolderError(
            f"{path} is missing; the chapters were written with the cast it held: restore it "
            "to resume"
        )
    if _bible_record(request.config) != kept:
        raise RunFolderError(
            f"{path} was changed after the book was planned with it; the outline (and any "
            "chapter) was made with the cast it had then. Undo the edit to go on, or start a "
            "new run with the new cast: copy bible.yaml into the project file"
        )


async def _initialize(manager: StateManager, request: RunRequest, initial: StoryState) -> None:
    """The story state before chapter 1; a run whose cast came from ``bible.yaml`` keeps it
    beside the state, so a later edit of the file is caught (``_check_bible_kept``)."""
    if await manager.initialize(initial) and (request.folder.path(BIBLE_FILE)).exists():
        await manager.put_meta("bible", _bible_record(request.config))


def _bible_record(config: ProjectConfig) -> dict[str, Any]:
    cast = [character.model_dump(mode="json") for character in config.characters]
    return {"cast": cast, "world": list(config.world)}


def _tell(observer: Observer, event: str, **fields: Any) -> None:
    """Log an event of the run before its coordinator exists, and show it."""
    log.info(event, **fields)
    observer(event, fields)


def store_watch(
    request: RunRequest, manager: StateManager, url: str, observer: Observer
) -> StoreWatch:
    """The store's thresholds watch (``state.thresholds``) for the rest of the run."""
    state, folder, base = request.config.state, request.folder, request.config_path.parent
    return StoreWatch(state.thresholds, manager, folder, url, state.durability, observer, base)


@contextmanager
def call_journal(client: MeteredClient, folder: RunFolder) -> Iterator[None]:
    """Every model call in ``model_calls.jsonl``, after those of earlier processes."""
    client.keep_journal(folder.path(JOURNAL_FILE))
    try:
        yield
    finally:
        if client.journal is not None:
            client.journal.close()


def _check_resumable(folder: RunFolder) -> None:
    """Refuse to write over a finished book whose files no longer match its manifest;
    remove temp files a killed writer left (no writer runs: we hold the run lock)."""
    check_unchanged(folder)
    for sub in ("", "chapters", "drafts"):
        for temp in stale_temp_files(folder.root / sub):
            temp.unlink(missing_ok=True)


def check_unchanged(folder: RunFolder) -> None:
    """RunFolderError when the book's files no longer match its manifest."""
    if folder.path(MANIFEST_FILE).exists():
        result = verify(folder)
        if result.missing or result.changed:
            differ = ", ".join([*result.missing, *result.changed])
            raise RunFolderError(
                f"{folder.root} does not match its manifest ({differ}); "
                f"see `orchestrator verify {folder.root}` and restore the files before resuming "
                f"(chapters you edited by hand: `orchestrator sync {folder.root}`)"
            )


def _started(coordinator: Coordinator, request: RunRequest, event: str) -> None:
    config = request.config
    coordinator.emit(
        event,
        run_id=request.run_id,
        run_dir=str(request.folder.root),
        chapters=config.project.chapters,
        language=config.project.language,
        workers=config.orchestrator.workers,
        mode=config.orchestrator.mode,
    )


def _say_if_unbudgeted(coordinator: Coordinator, request: RunRequest) -> None:
    """A run that pays for its calls and has no ``llm.budget_usd`` says so as it starts, with
    the book at the first-attempt estimate (``first_attempt_estimate``: it leans high)."""
    config = request.config
    if config.llm.budget_usd is not None or not is_paid(config):
        return
    per_chapter = first_attempt_estimate(config, run_prices(config, str(request.config_path)))
    if per_chapter <= 0:
        return  # models on a server of this machine cost nothing
    coordinator.emit(
        "no_budget",
        chapters=config.project.chapters,
        chapter_usd=round(per_chapter, 4),
        book_usd=round(per_chapter * config.project.chapters, 4),
        config=str(request.config_path),
    )


async def _outline(coordinator: Coordinator, request: RunRequest, manager: StateManager) -> Outline:
    """The outline the store keeps (a resumed run), else a new one, stored."""
    kept = await manager.meta("outline")
    if kept is not None:
        return Outline.model_validate(kept)
    given = given_outline(request.config)
    outline = await coordinator.plan(given)
    source = "planner" if given is None else "project"
    await store_outline(request.folder, manager, outline, request.config, source)
    return outline


async def _take_outline_edit(
    coordinator: Coordinator, request: RunRequest, manager: StateManager, outline: Outline
) -> Outline:
    """The outline to write from: the author's ``outline.yaml`` if they edited it before
    any chapter was written (stored as a new version), else ``outline``."""
    edit = await outline_edit(request.folder, manager, request.config)
    if edit is None:
        return outline
    number = await store_outline(
        request.folder, manager, edit.outline, request.config, "author", edit.data
    )
    coordinator.emit("outline_stored", version=number, file=OUTLINE_FILE)
    return edit.outline


async def finish_book(
    coordinator: Coordinator,
    request: RunRequest,
    watch: StoreWatch,
    outline: Outline,
    schedule: Schedule,
    started_at: datetime,
) -> RunSummary:
    folder, client = request.folder, coordinator.client
    book = book_of(coordinator.brief, request.run_id, schedule, folder)
    # The manuscript does not depend on the findings: assemble it during the review.
    findings, paths = await asyncio.gather(
        coordinator.review(outline, schedule), asyncio.to_thread(assemble, folder, book)
    )
    await watch.settle()  # a migration in flight ends first: the summary names the store in use
    manager = coordinator.manager
    records, final_state = await manager.chapters(), await manager.snapshot()
    summary = build_summary(
        request.run_id,
        request.config,
        folder,
        watch.url,
        schedule,
        findings,
        client,
        paths,
        started_at,
        coordinator.spending.report(),
        records,
        final_state,
    )
    summary.state_events = list(coordinator.manager.metrics.events)
    write_reports(folder, summary, findings, client, coordinator.manager, request.config)
    await asyncio.to_thread(write_run_review, folder, request.config.orchestrator.html_report)
    # outline.yaml at the digest of the version in use: an edit made since shows as one.
    latest = latest_version_file(folder)
    recorded = {OUTLINE_FILE: latest} if latest is not None else {}
    manifest = await asyncio.to_thread(write_manifest, folder, recorded)
    coordinator.emit("manifest_written", files=len(manifest["files"]), digest=manifest["digest"])
    coordinator.emit("run_finished", exit_code=summary.exit_code, wall_s=summary.wall_s)
    return summary


def make_coordinator(
    request: RunRequest,
    client: MeteredClient,
    manager: StateManager,
    folder: RunFolder,
    observer: Observer,
    rule: RevisionRule | None = None,
) -> Coordinator:
    """The run's coordinator, with its agents, limits and (for a sync) its revision rule."""
    config = request.config
    return Coordinator(
        run_id=request.run_id,
        brief=project_brief(config),
        client=client,
        manager=manager,
        folder=folder,
        models=AgentsSettings(
            planner=agent_settings(config, "planner"),
            writer=agent_settings(config, "writer"),
            extractor=agent_settings(config, "extractor"),
            editor=agent_settings(config, "editor"),
            length=length_rule(config),
            summarizer=(
                None
                if config.llm.for_agent("summarizer").provider == "offline"
                else agent_settings(config, "summarizer")
            ),
        ),
        scheduling=config.orchestrator,
        budget=context_budget(config),
        observer=observer,
        spending=_spending(config, client),
        rule=rule,
    )


def _spending(config: ProjectConfig, client: MeteredClient) -> SpendingLimit:
    limit = config.llm.budget_usd
    if limit is None:
        return SpendingLimit()
    return SpendingLimit(
        limit_usd=limit,
        spent=lambda: client.usage().cost_usd,
        attempt_costs=client.attempt_costs,
        first_estimate_usd=first_attempt_estimate(config, run_prices(config)),
    )


async def _wait_for_joined_writers(coordinator: Coordinator, poll_s: float) -> None:
    """A resumed run takes the jobs the run that died left on the board off it; those a
    joined worker is still writing are waited for (their outcomes are then restored)."""
    said = False
    while held := await coordinator.board.withdraw_unheld():
        if not said:
            said = True
            chapters = sorted(int(lease.name.rpartition("-")[2]) for lease in held)
            writers = sorted({lease.holder.label() for lease in held})
            coordinator.emit("waiting_for_workers", chapters=chapters, writers=writers)
        await asyncio.sleep(poll_s)


def config_for_workers(config: ProjectConfig) -> dict[str, Any]:
    """The config as the run folder and joined workers see it: never a store's password
    (the JSON dump of a state URL has none)."""
    return config.model_dump(mode="json", exclude_none=True)


def _write_run_file(folder: RunFolder, request: RunRequest, url: str, started_at: datetime) -> None:
    config = request.config
    used = config_for_workers(config)
    folder.write_text("config.yaml", yaml.safe_dump(used, allow_unicode=True, sort_keys=False))
    folder.write_json(
        RUN_FILE,
        {
            "run_id": request.run_id,
            "title": config.project.title,
            "config": str(request.config_path.resolve()),
            "state_url": url,
            "started_at": utc_iso(started_at),
        },
    )


def book_of(
    brief: ProjectBrief, run_id: str, schedule: Schedule, folder: RunFolder | None = None
) -> Book:
    """The book as the kept attempts of its chapters make it (failed chapters left out).
    A chapter the author wrote keeps its file as written (its draft in ``folder``)."""
    chapters = tuple(
        BookChapter(number, slot.kept.title, slot.kept.text, _author_file(folder, slot.kept))
        for number, slot in sorted(schedule.slots.items())
        if slot.kept is not None
    )
    return Book(
        title=brief.title,
        language=brief.language,
        identifier=run_id,
        genre=brief.genre,
        premise=brief.premise.strip(),
        chapters=chapters,
        generated=datetime.now(UTC).replace(microsecond=0),
    )


def _author_file(folder: RunFolder | None, draft: ChapterDraft) -> str | None:
    """The chapter file the author wrote (its draft holds it byte for byte), else None."""
    if folder is None or draft.delta.author != HUMAN_AUTHOR:
        return None
    return folder.draft_path(draft.chapter, draft.attempt).read_text(encoding="utf-8")
