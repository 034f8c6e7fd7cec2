"""``orchestrator bench continuity``: how many known contradictions the machinery catches.

A small generated project is written offline (``llm.drift`` makes chapters
wander off their plan, the noise the machinery lives with). Then, one trial
at a time, a known contradiction is injected into the finished book: chapter
k's committed delta (and its summary) is changed to kill a character, move
them somewhere else, or take an item from them, and the later chapters are
*not* revised. Two parts of the machinery look at the book as it then stands:

- the read-set check: which chapters the coordinator would send to revision
  because what they read no longer holds (``Machinery.contradicted``);
- the continuity editor's review (``Machinery.review``).

The ground truth is derived from the plans and the texts, not from the read
sets under test: the later chapters whose plan involves the character and
whose text shows them (dead: all of them; moved: the first, where they
reappear; item: those whose text shows the item, up to the plan's next
change of that inventory). A flag or finding counts only if the book as
written did not already have it.

The bench knows nothing of how a run is written or read back: the caller
passes ``open_book``, which opens a run folder as a ``WrittenBook`` and the
``Machinery`` of that run (``orchestrator.run.recheck``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from agents.planned import planned_changes
from agents.schemas import ContinuityFinding, Outline
from orchestrator.errors import OrchestratorError
from state.models import CHARACTERS, Conflicting, FieldChange, StateDelta, StoryState

Kind = Literal["dead", "location", "item"]
KINDS: tuple[Kind, ...] = ("dead", "location", "item")
Docs = dict[str, dict[str, Any]]


class BenchContinuityError(OrchestratorError, RuntimeError):
    """The offline book could not be written (its stderr says why)."""


@dataclass(frozen=True)
class ContinuityConfig:
    """What ``bench continuity`` writes and how many contradictions it injects."""

    chapters: int = 16
    trials: int = 3  # per kind of contradiction
    drift: float = 0.2
    seed: int = 0
    language: Literal["en", "zh"] = "en"
    folder: Path | None = None


@dataclass(frozen=True)
class WrittenBook:
    """A finished run as the machinery sees it: plans, committed deltas, texts."""

    outline: Outline
    initial: StoryState
    deltas: dict[int, StateDelta]  # the kept delta of every committed chapter
    texts: dict[int, str]
    summaries: dict[int, str]
    language: str = "en"
    revisions: int = 0  # revisions the run made while writing


class Machinery(Protocol):
    """The continuity machinery of one run, applied to a book as it stands."""

    def contradicted(
        self, initial: StoryState, outline: Outline, deltas: Mapping[int, StateDelta]
    ) -> dict[int, list[Conflicting]]:
        """Chapters whose reads the chapters before them contradict (sent to revision)."""
        ...

    async def review(
        self,
        outline: Outline,
        summaries: Mapping[int, str],
        state: StoryState,
        deltas: Mapping[int, StateDelta],
    ) -> list[ContinuityFinding]:
        """The continuity editor's findings on the book whose kept deltas are ``deltas``."""
        ...


OpenBook = Callable[[Path], Awaitable[tuple[WrittenBook, Machinery]]]


@dataclass(frozen=True)
class Injection:
    """One known contradiction: chapter ``chapter``'s delta changed, later chapters kept."""

    kind: Kind
    chapter: int
    character: str
    detail: str  # the place or the item
    delta: StateDelta
    summary: str
    truth: frozenset[int]  # later chapters that really rely on what changed


@dataclass(frozen=True)
class TrialScore:
    """What the machinery made of one injection."""

    injection: Injection
    flagged: frozenset[int]  # chapters newly sent to revision
    findings: tuple[ContinuityFinding, ...]  # the editor's new findings
    found: tuple[ContinuityFinding, ...]  # those of them about the injection

    @property
    def by_read_sets(self) -> bool:
        return bool(self.flagged & self.injection.truth)

    @property
    def by_editor(self) -> bool:
        return bool(self.found)


def score(
    injection: Injection,
    flagged: Iterable[int],
    findings: Iterable[ContinuityFinding],
    before: tuple[set[int], list[ContinuityFinding]] = (set(), []),
) -> TrialScore:
    """Compare what the machinery flagged and found with the injection's ground truth;
    ``before`` is what it flagged and found in the book as written (not counted)."""
    known = {_finding_key(f) for f in before[1]}
    new = tuple(f for f in findings if _finding_key(f) not in known)
    about = {injection.chapter, *injection.truth}
    found = tuple(
        f
        for f in new
        if f.chapter in about
        and (f.subject == injection.character or injection.character in f.detail)
    )
    return TrialScore(injection, frozenset(set(flagged) - before[0]), new, found)


def _finding_key(finding: ContinuityFinding) -> tuple[int, str, str]:
    return (finding.chapter, finding.kind, finding.subject)


@dataclass
class Tally:
    """Figures of a set of trials (one kind, or all)."""

    injected: int = 0
    by_read_sets: int = 0
    by_editor: int = 0
    by_either: int = 0
    dependent_chapters: int = 0  # the ground truth, summed over trials
    flagged_chapters: int = 0  # sent to revision by the read-set check
    flagged_dependent: int = 0  # of those, chapters in the ground truth
    editor_findings: int = 0
    editor_true: int = 0

    def add(self, trial: TrialScore) -> None:
        truth = trial.injection.truth
        self.injected += 1
        self.by_read_sets += trial.by_read_sets
        self.by_editor += trial.by_editor
        self.by_either += trial.by_read_sets or trial.by_editor
        self.dependent_chapters += len(truth)
        self.flagged_chapters += len(trial.flagged)
        self.flagged_dependent += len(trial.flagged & truth)
        self.editor_findings += len(trial.findings)
        self.editor_true += len(trial.found)

    def to_dict(self) -> dict[str, Any]:
        false_flags = self.flagged_chapters - self.flagged_dependent
        false_findings = self.editor_findings - self.editor_true
        found = self.flagged_dependent + self.editor_true
        return {
            "injected": self.injected,
            "caught_by_read_sets": self.by_read_sets,
            "caught_by_editor": self.by_editor,
            "caught_by_either": self.by_either,
            "recall": _ratio(self.by_either, self.injected),
            "read_sets": {
                "dependent_chapters": self.dependent_chapters,
                "sent_to_revision": self.flagged_chapters,
                "dependent_sent": self.flagged_dependent,
                "false_flags": false_flags,
                "recall": _ratio(self.flagged_dependent, self.dependent_chapters),
                "precision": _ratio(self.flagged_dependent, self.flagged_chapters),
            },
            "editor": {
                "findings": self.editor_findings,
                "true_findings": self.editor_true,
                "false_findings": false_findings,
                "recall": _ratio(self.by_editor, self.injected),
                "precision": _ratio(self.editor_true, self.editor_findings),
            },
            "false_findings": false_flags + false_findings,
            "precision": _ratio(found, self.flagged_chapters + self.editor_findings),
        }


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 3)


@dataclass
class ContinuityResult:
    """Every trial, with the noise of the book as written."""

    config: ContinuityConfig
    trials: list[TrialScore] = field(default_factory=list)
    drifted_chapters: int = 0  # chapters whose committed moves differ from their plan
    revisions: int = 0
    flagged_as_written: int = 0  # chapters still contradicted in the book as written
    findings_as_written: int = 0  # the editor's findings on the book as written

    def tallies(self) -> dict[str, Tally]:
        tallies: dict[str, Tally] = {kind: Tally() for kind in KINDS}
        overall = Tally()
        for trial in self.trials:
            tallies[trial.injection.kind].add(trial)
            overall.add(trial)
        tallies["overall"] = overall
        return tallies

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "chapters": c.chapters,
            "trials_per_kind": c.trials,
            "drift": c.drift,
            "seed": c.seed,
            "language": c.language,
            "as_written": {
                "drifted_chapters": self.drifted_chapters,
                "revisions": self.revisions,
                "still_contradicted": self.flagged_as_written,
                "editor_findings": self.findings_as_written,
            },
            "kinds": {name: tally.to_dict() for name, tally in self.tallies().items()},
            "trials": [_trial_dict(t) for t in self.trials],
        }


def _trial_dict(trial: TrialScore) -> dict[str, Any]:
    i = trial.injection
    return {
        "kind": i.kind,
        "chapter": i.chapter,
        "character": i.character,
        "detail": i.detail,
        "dependent": sorted(i.truth),
        "sent_to_revision": sorted(trial.flagged),
        "editor_findings": [f"{f.chapter}:{f.kind}:{f.subject}" for f in trial.findings],
        "caught_by_read_sets": trial.by_read_sets,
        "caught_by_editor": trial.by_editor,
    }


# -- the book -------------------------------------------------------------------------------


def states_before(book: WrittenBook) -> dict[int, Docs]:
    """Chapter -> the documents as of it (before it): the fold of the kept deltas."""
    docs = book.initial.documents()
    states: dict[int, Docs] = {}
    for number in range(1, len(book.outline.chapters) + 2):
        states[number] = {key: dict(doc) for key, doc in docs.items()}
        for change in book.deltas[number].changes if number in book.deltas else []:
            docs.setdefault(change.key, {})[change.field] = change.new
    return states


def final_state(book: WrittenBook, deltas: Mapping[int, StateDelta]) -> StoryState:
    """The state the kept ``deltas`` leave, in chapter order."""
    docs = book.initial.documents()
    for number in sorted(deltas):
        for change in deltas[number].changes:
            docs.setdefault(change.key, {})[change.field] = change.new
    return StoryState.from_documents(docs)


def mentions(text: str, name: str) -> bool:
    """The text names the character: in full, or by a first name (``Mara`` of ``Mara Quell``)."""
    first = name.split()[0] if len(name.split()) > 1 else name
    return name in text or first in text


def appears(book: WrittenBook, chapter: int, name: str) -> bool:
    """The plan involves the character and the chapter's text shows them."""
    plan = book.outline.chapter(chapter)
    return name in plan.named_characters() and mentions(book.texts.get(chapter, ""), name)


def drifted_chapters(book: WrittenBook) -> int:
    """Chapters whose committed moves are not the ones their plan intended."""
    states = states_before(book)
    count = 0
    for number, delta in book.deltas.items():
        plan = book.outline.chapter(number)
        planned = {(k, n) for k, f, n in planned_changes(plan, states[number]) if f == "location"}
        made = {(c.key, c.new) for c in delta.changes if c.field == "location"}
        count += planned != made
    return count


# -- injections -----------------------------------------------------------------------------

SAYINGS: dict[str, dict[Kind, str]] = {
    "en": {
        "dead": " {who} dies.",
        "location": " {who} goes to {what}.",
        "item": " {who} loses {what}.",
    },
    "zh": {"dead": "{who}死了。", "location": "{who}去了{what}。", "item": "{who}丢了{what}。"},
}


def inject(
    book: WrittenBook,
    kind: Kind,
    chapter: int,
    who: str,
    what: str,
    truth: Iterable[int],
    doc: Mapping[str, Any],
) -> Injection:
    """Chapter ``chapter``'s kept delta (and summary) with the contradiction added; ``doc``
    is the character as of the chapter (before it)."""
    delta = book.deltas[chapter]
    key = f"{CHARACTERS}/{who}"
    if kind == "dead":
        added = FieldChange(key=key, field="alive", old=doc.get("alive", True), new=False)
    elif kind == "location":
        added = FieldChange(key=key, field="location", old=doc.get("location"), new=what)
    else:
        held = _after(delta, key, "inventory", doc.get("inventory", []))
        kept = [item for item in held if item != what]
        added = FieldChange(key=key, field="inventory", old=doc.get("inventory"), new=kept)
    changes = [c for c in delta.changes if (c.key, c.field) != (key, added.field)]
    injected = delta.model_copy(update={"changes": [*changes, added]})
    saying = SAYINGS[book.language][kind].format(who=who, what=what)
    summary = book.summaries.get(chapter, "") + saying
    return Injection(kind, chapter, who, what, injected, summary, frozenset(truth))


def _after(delta: StateDelta, key: str, field_name: str, before: Any) -> Any:
    """The value the delta leaves in a field (``before`` if it does not set it)."""
    value = before
    for change in delta.changes:
        if (change.key, change.field) == (key, field_name):
            value = change.new
    return value


def candidates(book: WrittenBook, kind: Kind) -> list[Injection]:
    """Every injection of ``kind`` the book allows whose ground truth is not empty."""
    states = states_before(book)
    total = len(book.outline.chapters)
    found: list[Injection] = []
    for chapter in sorted(book.deltas):
        after = states[chapter + 1]
        for key, doc in sorted(after.items()):
            if not key.startswith(f"{CHARACTERS}/") or not doc.get("alive", True):
                continue
            who = key.partition("/")[2]
            later = [j for j in range(chapter + 1, total + 1) if j in book.deltas]
            before = states[chapter].get(key, {})
            found += [
                inject(book, kind, chapter, who, what, truth, before)
                for what, truth in _of_kind(book, kind, who, doc, later)
            ]
    return found


def _of_kind(
    book: WrittenBook, kind: Kind, who: str, after: dict[str, Any], later: list[int]
) -> list[tuple[str, list[int]]]:
    """(place or item, ground truth) of each injection of ``kind`` for ``who``, whom the
    chapter leaves as ``after``; ``later``: the written chapters after it."""
    if kind == "item":
        held = [(item, _holding(book, who, item, later)) for item in after.get("inventory") or []]
        return [(item, truth) for item, truth in held if truth]
    shown = [j for j in later if appears(book, j, who)]
    if not shown:
        return []
    if kind == "dead":
        return [("", shown)]
    setting = book.outline.chapter(shown[0]).setting
    places = [p for p in _places(book) if p not in (setting, after.get("location"))]
    return [(places[0], shown[:1])] if places else []


def _holding(book: WrittenBook, who: str, item: str, later: list[int]) -> list[int]:
    """Later chapters that show ``who`` with ``item``, up to the plan's next change of what
    they hold (that chapter relies on it too)."""
    truth = []
    for j in later:
        plan = book.outline.chapter(j)
        gives = any(c.character == who and c.field == "inventory" for c in plan.changes)
        if appears(book, j, who) and (gives or item in book.texts.get(j, "")):
            truth.append(j)
        if gives:
            break
    return truth


def _places(book: WrittenBook) -> list[str]:
    settings = [plan.setting for plan in book.outline.chapters]
    starts = [c.location for c in book.initial.characters.values() if c.location]
    return sorted(set(settings + starts))


def choose(book: WrittenBook, trials: int, rng: random.Random) -> list[Injection]:
    """``trials`` injections of each kind (fewer if the book allows fewer), at random."""
    chosen = []
    for kind in KINDS:
        pool = candidates(book, kind)
        chosen += rng.sample(pool, min(trials, len(pool)))
    return chosen


# -- the run --------------------------------------------------------------------------------


async def measure(
    book: WrittenBook, machinery: Machinery, config: ContinuityConfig
) -> ContinuityResult:
    """Inject, check and score every trial on one written book."""
    flagged = set(machinery.contradicted(book.initial, book.outline, book.deltas))
    state = final_state(book, book.deltas)
    findings = await machinery.review(book.outline, book.summaries, state, book.deltas)
    result = ContinuityResult(
        config,
        drifted_chapters=drifted_chapters(book),
        revisions=book.revisions,
        flagged_as_written=len(flagged),
        findings_as_written=len(findings),
    )
    for injection in choose(book, config.trials, random.Random(config.seed)):
        deltas = {**book.deltas, injection.chapter: injection.delta}
        summaries = {**book.summaries, injection.chapter: injection.summary}
        now = machinery.contradicted(book.initial, book.outline, deltas)
        said = await machinery.review(book.outline, summaries, final_state(book, deltas), deltas)
        result.trials.append(score(injection, now, said, (flagged, findings)))
    return result


async def run_continuity(config: ContinuityConfig, open_book: OpenBook) -> ContinuityResult:
    """Write the offline book in a temporary folder, then measure; the folder goes after."""
    with tempfile.TemporaryDirectory(prefix="bench-continuity-", dir=config.folder) as tmp:
        run_dir = write_book(config, Path(tmp))
        book, machinery = await open_book(run_dir)
        return await measure(book, machinery, config)


def write_book(config: ContinuityConfig, workdir: Path) -> Path:
    """``orchestrator run`` of the generated project in a child process, as a user would."""
    project = workdir / "project.yaml"
    project.write_text(project_yaml(config), encoding="utf-8")
    run_dir = workdir / "run"
    command = [sys.executable, "-m", "orchestrator", "run", str(project), "--quiet"]
    command += ["--run-dir", str(run_dir)]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    if child.returncode not in (0, 1):
        raise BenchContinuityError(
            f"orchestrator run exited {child.returncode}: {child.stderr.strip()}"
        )
    return run_dir


CASTS: dict[str, list[tuple[str, str, str, list[str]]]] = {
    "en": [
        ("Mara Quell", "protagonist", "the Harbour Office", ["a brass lamp key", "a ledger"]),
        ("Tobias Wren", "ally", "the lighthouse", ["a keeper's logbook"]),
        ("Ilse Varga", "rival", "the Drowned Anchor", ["a tide chart", "a signet ring"]),
        ("Aldous Crane", "antagonist", "the Guildhall", ["a silver seal"]),
        ("Perpetua Hale", "stranger", "the fish market", ["a sealed letter"]),
    ],
    "zh": [
        ("林晚", "主角", "港务局", ["一把铜钥匙", "一本账簿"]),
        ("周默", "盟友", "灯塔", ["一本值守日志"]),
        ("伊尔莎", "对手", "沉锚酒馆", ["一张潮汐图", "一枚图章戒指"]),
        ("顾远山", "反派", "行会大厅", ["一枚银印"]),
        ("何素", "陌生人", "鱼市", ["一封密信"]),
    ],
}


def project_yaml(config: ContinuityConfig) -> str:
    """The generated project: five characters with items, offline, with the bench's drift."""
    zh = config.language == "zh"
    cast = CASTS[config.language]
    project = {
        "project": {
            "title": "灯塔账簿" if zh else "The Continuity Bench",
            "genre": "悬疑" if zh else "mystery",
            "language": config.language,
            "chapters": config.chapters,
            "target_words": 300,
            "premise": "港务局的文书在亡父的账簿里发现了一艘从未存在过的船。"
            if zh
            else "A harbour clerk finds a ship in her drowned father's ledger that never existed.",
        },
        "characters": [
            {
                "name": name,
                "role": role,
                "description": role,
                "initial": {"location": place, "inventory": items},
            }
            for name, role, place, items in cast
        ],
        "llm": {"provider": "offline", "drift": config.drift, "seed": config.seed},
        "orchestrator": {"html_report": False},
    }
    return yaml.safe_dump(project, allow_unicode=True, sort_keys=False)


# -- printing -------------------------------------------------------------------------------


def format_continuity(result: ContinuityResult) -> str:
    """A table per kind of contradiction and overall, after the noise of the book as written."""
    c = result.config
    lines = [
        f"{c.chapters} chapters ({c.language}), drift {c.drift:g}, seed {c.seed}: "
        f"{result.drifted_chapters} chapters drifted from their plan, {result.revisions} "
        f"revisions while writing; as written: {result.flagged_as_written} chapters still "
        f"contradicted, {result.findings_as_written} editor findings",
        "",
        f"{'kind':<9}{'injected':>9}{'read sets':>10}{'editor':>8}{'either':>8}{'recall':>8}"
        f"{'false':>7}{'precision':>10}   chapters: dependent / sent / both",
    ]
    for name, tally in result.tallies().items():
        d = tally.to_dict()
        lines.append(
            f"{name:<9}{d['injected']:>9}{d['caught_by_read_sets']:>10}"
            f"{d['caught_by_editor']:>8}{d['caught_by_either']:>8}{_pct(d['recall']):>8}"
            f"{d['false_findings']:>7}{_pct(d['precision']):>10}   "
            f"{tally.dependent_chapters} / {tally.flagged_chapters} / {tally.flagged_dependent}"
        )
    lines += [
        "",
        "recall: injected contradictions caught by either; false: chapters sent to revision "
        "that do not depend on the change, plus editor findings not about it; precision: "
        "true flags and findings of all",
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
