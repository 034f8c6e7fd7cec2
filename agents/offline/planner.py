"""How the offline model plans a book: a four-act outline simulated over the cast's state.

The planner walks the chapters in order over a copy of the initial state, so
every planned change is consistent with the ones before it (an item is given
by whoever holds it, a knowledge list grows). Foreshadowing threads are
planted every third chapter and paid off three to five chapters later. When
the cast has an antagonist and the book is long enough, the antagonist dies in
the penultimate chapter and stays off stage after it.
"""

from __future__ import annotations

import random
import re

from agents.offline.voice import Voice, load_voice
from agents.schemas import ChapterPlan, Outline, PlannedChange, ProjectBrief, ThreadPlan
from state.models import CHARACTERS, StoryState

ACTS = ("setup", "rising", "crisis", "resolution")
MIN_PLACES = 3
PLANT_EVERY = 3
PAYOFF_AFTER = 3


def act_of(number: int, total: int) -> str:
    """Which of the four acts chapter ``number`` of ``total`` falls in."""
    return ACTS[min(len(ACTS) - 1, (number - 1) * len(ACTS) // total)]


def slug(text: str, fallback: str = "thread") -> str:
    """A short ASCII id for ``text`` (``a torn page`` -> ``torn-page``)."""
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ("a", "an", "the")]
    return "-".join(words[:4]) or fallback


def draft_outline(brief: ProjectBrief, rng: random.Random) -> Outline:
    """An outline for ``brief``, deterministic for a given ``rng`` state."""
    return _OutlineDraft(brief, rng).outline()


Step = tuple[list[PlannedChange], list[str]]


class _OutlineDraft:
    def __init__(self, brief: ProjectBrief, rng: random.Random) -> None:
        self.brief = brief
        self.rng = rng
        self.voice: Voice = load_voice(brief.language)
        self.total = brief.chapters
        self.sim = brief.initial.model_copy(deep=True)
        extras = [p for p in self.voice.words("extra_places") if p not in brief.places()]
        self.places = brief.places() + extras[: max(0, MIN_PLACES - len(brief.places()))]
        self.protagonist = self._with_role(("protagonist", "主角")) or brief.characters[0].name
        self.antagonist = self._with_role(("antagonist", "villain", "反派"))
        enough = self.antagonist is not None and self.total >= 6
        self.death_chapter = self.total - 1 if enough else None
        self.titles: set[str] = set()
        self.threads: list[ThreadPlan] = []
        self.plants: dict[int, list[str]] = {}
        self.payoffs: dict[int, list[str]] = {}
        self.setting = ""

    def _with_role(self, words: tuple[str, ...]) -> str | None:
        for sheet in self.brief.characters:
            if any(word in sheet.role.lower() for word in words):
                return sheet.name
        return None

    def outline(self) -> Outline:
        self._plan_threads()
        chapters = [self._chapter(number) for number in range(1, self.total + 1)]
        return Outline(title=self.brief.title, chapters=chapters, threads=self.threads)

    def _plan_threads(self) -> None:
        motifs = self.voice.words("motifs")
        self.rng.shuffle(motifs)
        for index, start in enumerate(range(1, self.total - PAYOFF_AFTER + 1, PLANT_EVERY)):
            motif = motifs[index % len(motifs)]
            ident = f"{slug(motif)}-{start}"
            payoff = min(self.total, start + PAYOFF_AFTER + self.rng.randint(0, 2))
            self.threads.append(ThreadPlan(id=ident, description=motif))
            self.plants.setdefault(start, []).append(ident)
            self.payoffs.setdefault(payoff, []).append(ident)

    # -- one chapter ---------------------------------------------------------

    def _chapter(self, number: int) -> ChapterPlan:
        act = act_of(number, self.total)
        pov = self._pov(number)
        self.setting = self._setting(number, pov)
        others = self._others(number, pov)
        other = others[0] if others else self._anyone_but(pov)
        beats = self._act_beats(act, pov, others or [other])
        changes: list[PlannedChange] = []
        for step in (
            self._move(number, others),
            self._mood(act, pov),
            self._learn(number, pov, other),
            self._give(number, [pov, *others]),
            self._relate(number, pov, other),
            self._death(number),
        ):
            changes.extend(step[0])
            beats.extend(step[1])
        beats.extend(self._thread_beats(number, pov))
        plan = ChapterPlan(
            number=number,
            title=self._title(pov),
            pov=pov,
            setting=self.setting,
            characters=[pov, *others],
            beats=beats,
            changes=changes,
            plants=self.plants.get(number, []),
            payoffs=self.payoffs.get(number, []),
        )
        self._advance(plan)
        return plan

    def _alive(self) -> list[str]:
        return [name for name, person in self.sim.characters.items() if person.alive]

    def _anyone_but(self, name: str) -> str:
        others = [n for n in self._alive() if n != name]
        return others[0] if others else name

    def _pov(self, number: int) -> str:
        alive = self._alive() or [self.protagonist]
        lead = self.protagonist if self.protagonist in alive else alive[0]
        rest = [n for n in alive if n != lead]
        if number % 2 == 1 or not rest:
            return lead
        pov = rest[(number // 2 - 1) % len(rest)]
        return lead if number == self.death_chapter and pov == self.antagonist else pov

    def _setting(self, number: int, pov: str) -> str:
        start = self.sim.characters[pov].location if pov in self.sim.characters else ""
        if number == 1 and start:
            return start
        choices = [p for p in self.places if p != self.setting] or self.places
        return self.rng.choice(choices)

    def _others(self, number: int, pov: str) -> list[str]:
        candidates = [n for n in self._alive() if n != pov]
        if not candidates:
            return []
        chosen = self.rng.sample(candidates, self.rng.randint(1, min(2, len(candidates))))
        doomed = self.antagonist
        if number == self.death_chapter and doomed in candidates and doomed not in chosen:
            chosen[-1] = doomed
        return chosen

    def _act_beats(self, act: str, pov: str, others: list[str]) -> list[str]:
        templates = self.rng.sample(self.voice.words(f"beats.{act}"), 2)
        return [
            self.voice.fill(template, pov=pov, other=others[i % len(others)], place=self.setting)
            for i, template in enumerate(templates)
        ]

    def _title(self, pov: str) -> str:
        for _ in range(8):
            title = self.voice.say(self.rng, "titles", pov=pov, place=self.setting)
            if title not in self.titles:
                break
        else:
            title = f"{title} ({len(self.titles) + 1})"
        self.titles.add(title)
        return title

    # -- planned changes: each step returns (changes, beats) -----------------

    def _change(self, name: str, field: str, new: object) -> PlannedChange:
        return PlannedChange(key=f"{CHARACTERS}/{name}", field=field, new=new)

    def _move(self, number: int, others: list[str]) -> Step:
        movers = [n for n in others if not (number == self.death_chapter and n == self.antagonist)]
        destinations = [p for p in self.places if p != self.setting]
        if not movers or not destinations:
            return [], []
        who, place = self.rng.choice(movers), self.rng.choice(destinations)
        beat = self.voice.fill(self.voice.text("beat_move"), who=who, place=place)
        return [self._change(who, "location", place)], [beat]

    def _mood(self, act: str, pov: str) -> Step:
        current = self.sim.characters[pov].emotion if pov in self.sim.characters else ""
        moods = [m for m in self.voice.words(f"emotions.{act}") if m != current]
        return [self._change(pov, "emotion", self.rng.choice(moods))], []

    def _learn(self, number: int, pov: str, other: str) -> Step:
        if number % 3 != 0 or pov not in self.sim.characters or other == pov:
            return [], []
        fact = self.voice.fill(
            self.voice.choose(self.rng, "facts"), other=other, place=self.setting
        )
        if fact in self.sim.characters[pov].knowledge:  # nothing new to learn
            return [], []
        known = [*self.sim.characters[pov].knowledge, fact]
        beat = self.voice.fill(self.voice.text("beat_learn"), pov=pov, fact=fact)
        return [self._change(pov, "knowledge", known)], [beat]

    def _give(self, number: int, on_stage: list[str]) -> Step:
        people = [n for n in on_stage if n in self.sim.characters]
        holders = [n for n in people if self.sim.characters[n].inventory]
        if number % 4 != 2 or not holders or len(people) < 2:
            return [], []
        giver = holders[0]
        taker = next(n for n in people if n != giver)
        item = self.sim.characters[giver].inventory[-1]
        kept = self.sim.characters[giver].inventory[:-1]
        gained = [*self.sim.characters[taker].inventory, item]
        beat = self.voice.fill(self.voice.text("beat_give"), giver=giver, item=item, taker=taker)
        changes = [self._change(giver, "inventory", kept), self._change(taker, "inventory", gained)]
        return changes, [beat]

    def _relate(self, number: int, pov: str, other: str) -> Step:
        if number % 5 != 0 or other == pov or pov not in self.sim.characters:
            return [], []
        relation = self.voice.choose(self.rng, "relations")
        if self.sim.characters[pov].relationships.get(other) == relation:  # nothing changes
            return [], []
        relations = {**self.sim.characters[pov].relationships, other: relation}
        beat = self.voice.fill(
            self.voice.text("beat_relation"), pov=pov, other=other, relation=relation
        )
        return [self._change(pov, "relationships", relations)], [beat]

    def _death(self, number: int) -> Step:
        doomed = self.antagonist
        if number != self.death_chapter or doomed is None or doomed not in self._alive():
            return [], []
        beat = self.voice.fill(self.voice.text("beat_death"), who=doomed, place=self.setting)
        return [self._change(doomed, "alive", False)], [beat]

    def _thread_beats(self, number: int, pov: str) -> list[str]:
        described = {t.id: t.description for t in self.threads}
        plant = self.voice.text("beat_plant")
        payoff = self.voice.text("beat_payoff")
        return [
            self.voice.fill(plant, pov=pov, motif=described[t]) for t in self.plants.get(number, [])
        ] + [
            self.voice.fill(payoff, pov=pov, motif=described[t])
            for t in self.payoffs.get(number, [])
        ]

    def _advance(self, plan: ChapterPlan) -> None:
        """The simulated state after ``plan``: the cast on stage is at the setting, then changes."""
        presence = [(f"{CHARACTERS}/{n}", "location", plan.setting) for n in plan.characters]
        planned = [(c.key, c.field, c.new) for c in plan.changes]
        docs = self.sim.documents()
        for key, field, new in presence + planned:
            docs.setdefault(key, {})[field] = new
        self.sim = StoryState.from_documents(docs, version=self.sim.version)
