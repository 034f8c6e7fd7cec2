"""How the offline model writes a chapter: plain prose from the brief.

The prose is built from the brief alone: the place, the characters on stage
(with the emotion, items and relationships the state gives them), the beats,
the foreshadowing planted and paid off, and the changes the chapter causes,
each told in a sentence (what happened is read back from the text by the
extractor, ``agents.offline.reader``). Characters the state says are dead are
remembered, never on stage.

With probability ``drift`` the chapter deviates from its plan: a character
ends somewhere other than planned, and the prose tells it, as a model that
wandered off its outline would. A continuation (``brief.so_far``) carries on
with more of the same until the target length is made up.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from agents.offline.voice import Voice, load_voice
from agents.schemas import PlannedChange, WritingBrief, humanize
from agents.wordcount import count_words
from state.models import CHARACTERS, CharacterState, StoryState


def draft_chapter(brief: WritingBrief, rng: random.Random, drift: float) -> str:
    """The chapter ``brief`` asks for, as prose; deterministic for a given ``rng`` state.

    A continuation (``brief.so_far`` set) is only the text that follows it.
    """
    voice = load_voice(brief.language)
    if brief.so_far:
        return _Prose(brief, voice, rng, [], None).continuation(brief.so_far)
    changes = [c for c in brief.plan.changes if _possible(c, brief.state)]
    dead = [n for n in brief.plan.named_characters() if not is_alive(brief.state, n)]
    beats = [b for b in brief.plan.beats if not any(name in b for name in dead)]
    drifted: PlannedChange | None = None
    if rng.random() < drift:
        changes, beats, drifted = _drift(brief, voice, rng, changes, beats)
    return _Prose(brief, voice, rng, changes, drifted).write(beats)


def is_alive(state: StoryState, name: str) -> bool:
    """Dead only if the state says so; a character it does not know is alive."""
    person = state.characters.get(name)
    return person is None or person.alive


def _possible(change: PlannedChange, state: StoryState) -> bool:
    """The dead do nothing but stay dead."""
    name = change.character
    return name is None or change.field == "alive" or is_alive(state, name)


def _drift(
    brief: WritingBrief,
    voice: Voice,
    rng: random.Random,
    changes: list[PlannedChange],
    beats: list[str],
) -> tuple[list[PlannedChange], list[str], PlannedChange | None]:
    """The plan with one character ending somewhere else: moved elsewhere, or moved at all."""
    plan = brief.plan
    places = list(dict.fromkeys([*brief.places, plan.setting, *voice.words("extra_places")]))
    move_beat = voice.text("beat_move")
    moves = [i for i, c in enumerate(changes) if c.field == "location" and c.character]
    if moves:
        index = rng.choice(moves)
        planned = changes[index]
        actual = planned.model_copy(
            update={"new": rng.choice([p for p in places if p != planned.new])}
        )
        changes = [*changes[:index], actual, *changes[index + 1 :]]
        before = voice.fill(move_beat, who=planned.character, place=planned.new)
        after = voice.fill(move_beat, who=actual.character, place=actual.new)
        return changes, [after if beat == before else beat for beat in beats], actual
    on_stage = [n for n in plan.characters if is_alive(brief.state, n)]
    if not on_stage:
        return changes, beats, None
    who = rng.choice(on_stage)
    place = rng.choice([p for p in places if p != plan.setting])
    actual = PlannedChange(key=f"{CHARACTERS}/{who}", field="location", new=place)
    return [*changes, actual], [*beats, voice.fill(move_beat, who=who, place=place)], actual


NAME_FIELDS = frozenset(("pov", "name", "other", "speaker", "listener", "giver", "taker", "dead"))


def short_names(names: list[str]) -> dict[str, str]:
    """``Mara Quell`` -> ``Mara`` where no one else in the cast shares the first name."""
    names = list(dict.fromkeys(names))
    firsts = [name.split()[0] for name in names if name.split()]
    return {
        name: name.split()[0]
        for name in names
        if len(name.split()) > 1 and firsts.count(name.split()[0]) == 1
    }


class _Prose:
    """Paragraphs of one chapter, padded with interludes up to the target length."""

    def __init__(
        self,
        brief: WritingBrief,
        voice: Voice,
        rng: random.Random,
        changes: list[PlannedChange],
        drifted: PlannedChange | None,
    ) -> None:
        self.brief = brief
        self.plan = brief.plan
        self.state = brief.state
        self.voice = voice
        self.rng = rng
        self.changes = changes
        self.drifted = drifted
        self.place = brief.plan.setting
        self.alive = [n for n in self.plan.characters if is_alive(self.state, n)]
        self.dead = [n for n in self.plan.characters if not is_alive(self.state, n)]
        self.pov = (
            self.plan.pov if self.plan.pov in self.alive else (self.alive or [self.plan.pov])[0]
        )
        self.short = short_names([*self.state.characters, *self.plan.characters])

    def write(self, beats: list[str]) -> str:
        body = [self._beat(beat, index) for index, beat in enumerate(beats)]
        body += [self._thread("prose.plant", ident) for ident in self.plan.plants]
        body += [self._thread("prose.payoff", ident) for ident in self.plan.payoffs]
        head, tail = [self._opening()], [p for p in (self._outcome(), self._closing()) if p]
        have = sum(count_words(p, self.brief.language) for p in head + body + tail)
        return "\n\n".join(head + self._padded(body, self.brief.target_words - have) + tail)

    def continuation(self, so_far: str) -> str:
        """Interludes that carry ``so_far`` on to the target length (one at least)."""
        missing = self.brief.target_words - count_words(so_far, self.brief.language)
        return "\n\n".join(self._padded([], max(1, missing)))

    # -- helpers -------------------------------------------------------------

    def _person(self, name: str) -> CharacterState:
        return self.state.characters.get(name) or CharacterState(name=name)

    def _say(self, key: str, **values: Any) -> str:
        common = {
            "pov": self.pov,
            "place": self.place,
            "weather": self.voice.choose(self.rng, "weather"),
            "sound": self.voice.choose(self.rng, "sounds"),
        }
        merged = {**common, **values}
        for field in NAME_FIELDS & merged.keys():
            merged[field] = self.short.get(merged[field], merged[field])
        return self.voice.say(self.rng, key, **merged)

    def _pair(self, index: int) -> tuple[str, str]:
        cast = self.alive or [self.pov]
        speaker = cast[index % len(cast)]
        listener = cast[(index + 1) % len(cast)]
        return speaker, listener

    # -- paragraphs ----------------------------------------------------------

    def _opening(self) -> str:
        sentences = [self._say("prose.opening")]
        person = self._person(self.pov)
        if person.location and person.location != self.place:
            sentences.append(self._say("prose.travel", name=self.pov, **{"from": person.location}))
        if person.emotion:
            sentences.append(self._say("prose.mood", name=self.pov, emotion=person.emotion))
        sentences += [self._say("prose.remember_dead", dead=name) for name in self.dead]
        return self.voice.join(sentences)

    def _beat(self, beat: str, index: int) -> str:
        sentences = [self._say("prose.beat", beat=beat)]
        speaker, listener = self._pair(index)
        if speaker != listener:
            sentences.append(self._say("prose.dialogue", speaker=speaker, listener=listener))
        sentences.append(self._detail(speaker))
        return self.voice.join(sentences)

    def _detail(self, name: str) -> str:
        person = self._person(name)
        if person.inventory and self.rng.random() < 0.5:
            return self._say("prose.item", name=name, item=self.rng.choice(person.inventory))
        if person.relationships:
            other, relation = self.rng.choice(sorted(person.relationships.items()))
            return self._say("prose.relation", name=name, other=other, relation=relation)
        return self._interlude_line(name)

    def _interlude_line(self, name: str) -> str:
        others = [n for n in self.alive if n != name] or [name]
        elsewhere = [p for p in self.brief.places if p != self.place] or [self.place]
        return self._say(
            "prose.filler",
            name=name,
            other=self.rng.choice(others),
            elsewhere=self.rng.choice(elsewhere),
        )

    def _interlude(self, index: int) -> str:
        speaker, listener = self._pair(index)
        sentences = [self._interlude_line(speaker)]
        if speaker != listener:
            sentences.append(self._say("prose.dialogue", speaker=speaker, listener=listener))
        sentences.append(self._detail(listener))
        return self.voice.join(sentences)

    def _padded(self, body: list[str], missing: int) -> list[str]:
        """``body`` with interludes spread between its paragraphs until ``missing`` is made up."""
        slots = [[paragraph] for paragraph in body] or [[]]
        index = 0
        while missing > 0:
            interlude = self._interlude(index)
            slots[index % len(slots)].append(interlude)
            missing -= max(1, count_words(interlude, self.brief.language))
            index += 1
        return [paragraph for slot in slots for paragraph in slot]

    def _thread(self, key: str, ident: str) -> str:
        thread = self.state.foreshadowing.get(ident)
        motif = thread.description if thread and thread.description else humanize(ident)
        return self._say(key, motif=motif)

    def _closing(self) -> str:
        return self._say("prose.closing")

    # -- what changed ----------------------------------------------------------

    def _outcome(self) -> str:
        narrators: dict[str, Callable[[str, PlannedChange], list[str]]] = {
            "location": self._moved,
            "emotion": self._felt,
            "knowledge": self._learned,
            "relationships": self._related,
            "alive": self._died,
        }
        sentences = self._gifts()
        for change in self.changes:
            narrate = narrators.get(change.field)
            if change.character is not None and narrate is not None:
                sentences += narrate(change.character, change)
        return self.voice.join(sentences)

    def _moved(self, name: str, change: PlannedChange) -> list[str]:
        key = "prose.drift_move" if change is self.drifted else "prose.move"
        return [self._say(key, name=name, place=change.new)]

    def _felt(self, name: str, change: PlannedChange) -> list[str]:
        old = self._person(name).emotion
        if old == change.new or not change.new:
            return []
        if not old:
            return [self._say("prose.emotion_set", name=name, new=change.new)]
        return [self._say("prose.emotion_shift", name=name, old=old, new=change.new)]

    def _learned(self, name: str, change: PlannedChange) -> list[str]:
        known = set(self._person(name).knowledge)
        facts = change.new if isinstance(change.new, list) else []
        return [self._say("prose.learn", name=name, fact=f) for f in facts if f not in known]

    def _related(self, name: str, change: PlannedChange) -> list[str]:
        before = self._person(name).relationships
        after = change.new if isinstance(change.new, dict) else {}
        return [
            self._say("prose.relation_shift", name=name, other=other, relation=relation)
            for other, relation in after.items()
            if before.get(other) != relation
        ]

    def _died(self, name: str, change: PlannedChange) -> list[str]:
        return [] if change.new else [self._say("prose.death", name=name)]

    def _gifts(self) -> list[str]:
        """Items handed from one character to another, lost, or come by."""
        lost: dict[str, str] = {}
        gained: list[tuple[str, str]] = []
        for change in self.changes:
            if change.field != "inventory" or change.character is None:
                continue
            before = set(self._person(change.character).inventory)
            after = set(change.new) if isinstance(change.new, list) else set()
            lost.update({item: change.character for item in before - after})
            gained += [(change.character, item) for item in sorted(after - before)]
        given = [(taker, item) for taker, item in gained if item in lost]
        handed = {item for _, item in given}
        gifts = [
            self._say("prose.give", giver=lost[item], taker=taker, item=item)
            for taker, item in given
        ]
        losses = [
            self._say("prose.lose", name=who, item=item)
            for item, who in lost.items()
            if item not in handed
        ]
        finds = [
            self._say("prose.find", name=taker, item=item)
            for taker, item in gained
            if item not in lost
        ]
        return [*gifts, *losses, *finds]
