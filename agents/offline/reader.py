"""How the offline model reads a finished chapter: what happened in it, from its text alone.

This is the offline extractor. It is given the chapter's text, its plan and
the state as of it (``ExtractionBrief``), and reports a ``ChapterReport``: the
fields the text changes (with end values), the threads it plants and pays off,
and a summary. It never copies the plan's intended changes: what it reports is
what it finds in the text, so a chapter that drifted, or one an author
rewrote by hand, is reported as it reads.

It reads sentence by sentence. A sentence in the offline model's own phrasing
(one of the templates of its voice, ``voices/<lang>.yaml``) is read by that
template: a move, a death, a gift, a lesson learned. Any other sentence is an
author's, and is read by cue words (the voice's ``reading`` section): someone
named dies, goes somewhere, loses or hands over something they hold. A cue
after a negation ("did not die", "没有死") is not a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from string import Template
from typing import Any

from agents.offline.voice import Voice, load_voice
from agents.schemas import ChapterReport, ExtractionBrief, PlannedChange, humanize
from state.models import CHARACTERS, CharacterState

# The templates whose sentences change the state, and what they change.
CHANGE_TEMPLATES = (
    "move",
    "drift_move",
    "death",
    "give",
    "lose",
    "find",
    "learn",
    "emotion_shift",
    "emotion_set",
    "relation_shift",
)
# What a placeholder may hold: a phrase inside one sentence.
PHRASE = r"[^\n]+?"
# An author's move names at most this many words (or characters, in Chinese) of place.
PLACE_WORDS = 6
PLACE_CHARS = 10
# Where the phrase naming a place ends: punctuation, Western or Chinese.
CLAUSE_END = re.compile('[,.;:!?"\u201c\u201d\u3001\u3002\uff01\uff0c\uff1a\uff1b\uff1f]')


@dataclass(frozen=True, slots=True)
class _Piece:
    """One sentence of one template, as a pattern a whole sentence must match."""

    bank: str  # the template's bank, e.g. "move"
    pattern: re.Pattern[str]
    literal: str  # its longest fixed text: a sentence without it cannot match


@dataclass
class _Findings:
    """What the reading found so far, in the order the text tells it."""

    places: dict[str, str] = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)
    inventory: dict[str, list[str]] = field(default_factory=dict)
    learned: dict[str, list[str]] = field(default_factory=dict)
    emotions: dict[str, str] = field(default_factory=dict)
    relations: dict[str, dict[str, str]] = field(default_factory=dict)
    beats: list[str] = field(default_factory=list)


def read_chapter(brief: ExtractionBrief) -> ChapterReport:
    """The report of what ``brief.text`` does to the state it starts from."""
    voice = load_voice(brief.language)
    reader = _Reader(brief, voice)
    found = reader.read()
    return ChapterReport(
        summary=reader.summary(found),
        changes=reader.changes(found),
        planted=reader.threads(brief.plan.plants),
        paid_off=reader.threads(brief.plan.payoffs),
    )


class _Reader:
    def __init__(self, brief: ExtractionBrief, voice: Voice) -> None:
        self.brief = brief
        self.voice = voice
        self.cues = _cues(voice)
        names = list(dict.fromkeys([*brief.state.characters, *brief.plan.characters]))
        self.names = _name_forms(names)
        self.places = _known_places(brief, voice)
        self.found = _Findings(
            inventory={n: list(self._person(n).inventory) for n in names},
        )

    def _person(self, name: str) -> CharacterState:
        return self.brief.state.characters.get(name) or CharacterState(name=name)

    # -- reading -----------------------------------------------------------------

    def read(self) -> _Findings:
        pieces = _pieces(self.voice.language)
        for sentence in _sentences(self.brief.text, self.cues["sentence"]):
            matched = _match(sentence, pieces)
            if matched is None:
                self._read_by_cues(sentence)
            elif matched[0] in CHANGE_TEMPLATES or matched[0] == "beat":
                self._read_template(*matched)
        return self.found

    def _name(self, text: str) -> str | None:
        return self.names.get(text.strip().casefold())

    def _read_template(self, bank: str, values: dict[str, str]) -> None:
        found = self.found
        name = self._name(values.get("name", ""))
        if bank == "beat":
            found.beats.append(values["beat"])
        elif bank in ("move", "drift_move") and name:
            found.places[name] = values["place"]
        elif bank == "death" and name:
            found.dead.append(name)
        elif bank == "give":
            giver, taker = self._name(values["giver"]), self._name(values["taker"])
            self._hand_over(giver, taker, values["item"])
        elif bank == "lose" and name:
            self._hand_over(name, None, values["item"])
        elif bank == "find" and name:
            self._hand_over(None, name, values["item"])
        elif bank == "learn" and name:
            found.learned.setdefault(name, []).append(values["fact"])
        elif bank in ("emotion_shift", "emotion_set") and name:
            found.emotions[name] = values["new"]
        elif bank == "relation_shift" and name:
            other = self._name(values["other"]) or values["other"]
            found.relations.setdefault(name, {})[other] = values["relation"]

    def _hand_over(self, giver: str | None, taker: str | None, item: str) -> None:
        inventory = self.found.inventory
        if giver is not None:
            held = inventory.setdefault(giver, [])
            match = next((i for i in held if i.casefold() == item.casefold()), None)
            if match is not None:
                held.remove(match)
                item = match
        if taker is not None:
            inventory.setdefault(taker, []).append(item)

    def _read_by_cues(self, sentence: str) -> None:
        """An author's sentence: a death, a move, a loss or a gift its cue words tell. A cue
        inside a known place's name is not one ("went to the Drowned Anchor tavern")."""
        names = self._place_spans(sentence)
        for cue in ("death", "move", "give", "lose"):
            for hit in self.cues[cue].finditer(sentence):
                if any(start <= hit.start() < end for start, end in names):
                    continue
                before = sentence[: hit.start()]
                if self.cues["negation"].search(before):
                    continue
                subject = self._subject(before) or self._subject(sentence)
                if subject is None:
                    continue
                after = sentence[hit.end() :]
                if cue == "death" and subject not in self.found.dead:
                    self.found.dead.append(subject)
                elif cue == "move":
                    place = self._place(after)
                    if place:
                        self.found.places[subject] = place
                elif cue == "give":
                    self._gift_by_cue(subject, sentence, hit.end())
                elif cue == "lose":
                    item = self._held_item(subject, sentence[hit.start() :])
                    if item:
                        self._hand_over(subject, None, item)

    def _place_spans(self, sentence: str) -> list[tuple[int, int]]:
        """Where the known places are named in ``sentence``."""
        folded = sentence.casefold()
        spans = []
        for place in self.places:
            form = place.casefold()
            at = folded.find(form)
            while at >= 0:
                spans.append((at, at + len(form)))
                at = folded.find(form, at + 1)
        return spans

    def _subject(self, text: str) -> str | None:
        """The character named last in ``text``."""
        best: tuple[int, str] | None = None
        for form, name in self.names.items():
            at = text.casefold().rfind(form)
            if at >= 0 and _whole(text, at, len(form)) and (best is None or at > best[0]):
                best = (at, name)
        return best[1] if best else None

    def _place(self, text: str) -> str | None:
        """A known place at the start of ``text``, else the short phrase there."""
        folded = text.casefold()
        known = [
            (at, place)
            for place in self.places
            if (at := folded.find(place.casefold())) >= 0 and at <= 4
        ]
        if known:
            return min(known, key=lambda hit: (hit[0], -len(hit[1])))[1]
        phrase = CLAUSE_END.split(text, maxsplit=1)[0].strip()
        if not phrase:
            return None
        if self.voice.language == "zh":
            return phrase[:PLACE_CHARS]
        words = phrase.split()
        return " ".join(words[:PLACE_WORDS]) if len(words) <= PLACE_WORDS else None

    def _held_item(self, name: str, text: str) -> str | None:
        """The item ``name`` holds that ``text`` names: by its head noun ("the brass key"
        for "a brass lamp key"; in Chinese its last two characters), the closest wording
        first."""
        folded = text.casefold()
        words = set(re.findall(r"[\w'\u2019]+", folded))
        best: tuple[int, int, str] | None = None
        for item in self.found.inventory.get(name, []):
            head = _head(item, self.voice.language)
            at = folded.find(head)
            if at < 0 or (self.voice.language != "zh" and head not in words):
                continue
            overlap = len(words & set(re.findall(r"[\w'\u2019]+", item.casefold())))
            rank = (-overlap, at, item)
            if best is None or rank < best:
                best = rank
        return best[2] if best else None

    def _gift_by_cue(self, giver: str, sentence: str, cue_end: int) -> None:
        """A gift: an item the giver holds named in the sentence ("gave the key to Tobias",
        "把钥匙交给了周默"), to the next character named after the cue."""
        item = self._held_item(giver, sentence)
        if item is None:
            return
        after = sentence[cue_end:]
        to = self.cues["give_to"].search(after)
        taker = self._first_named(after[to.end() :] if to and to.end() else after, giver)
        if taker is not None:
            self._hand_over(giver, taker, item)

    def _first_named(self, text: str, besides: str) -> str | None:
        """The first character other than ``besides`` named in ``text``."""
        folded = text.casefold()
        hits = [
            (at, name)
            for form, name in self.names.items()
            if name != besides and (at := folded.find(form)) >= 0 and _whole(text, at, len(form))
        ]
        return min(hits)[1] if hits else None

    # -- the report ----------------------------------------------------------------

    def changes(self, found: _Findings) -> list[PlannedChange]:
        changes: list[tuple[str, str, Any]] = []
        for name, place in found.places.items():
            changes.append((name, "location", place))
        for name in found.dead:
            if self._person(name).alive:
                changes.append((name, "alive", False))
        for name, items in found.inventory.items():
            if items != self._person(name).inventory:
                changes.append((name, "inventory", items))
        for name, facts in found.learned.items():
            known = self._person(name).knowledge
            new = [fact for fact in dict.fromkeys(facts) if fact not in known]
            if new:
                changes.append((name, "knowledge", [*known, *new]))
        for name, emotion in found.emotions.items():
            changes.append((name, "emotion", emotion))
        for name, relations in found.relations.items():
            before = self._person(name).relationships
            changes.append((name, "relationships", {**before, **relations}))
        return [
            PlannedChange(key=f"{CHARACTERS}/{name}", field=field_name, new=new)
            for name, field_name, new in changes
        ]

    def threads(self, idents: list[str]) -> list[str]:
        """The threads among ``idents`` whose motif the text shows."""
        text = self.brief.text.casefold()
        ledger = self.brief.state.foreshadowing
        shown = []
        for ident in idents:
            thread = ledger.get(ident)
            motifs = {humanize(ident), ident}
            if thread is not None and thread.description:
                motifs.add(thread.description)
            if any(motif.casefold() in text for motif in motifs if motif):
                shown.append(ident)
        return shown

    def summary(self, found: _Findings) -> str:
        if found.beats:
            return self.voice.sentence(
                self.voice.fill(
                    self.voice.text("prose.summary"),
                    place=self.brief.plan.setting,
                    beats=self.voice.text("summary_join").join(found.beats),
                )
            )
        sentences = list(_sentences(self.brief.text, self.cues["sentence"]))
        return self.voice.join(sentences[:2]) or self.brief.plan.title


# -- the voice's templates and cues, compiled once per language -----------------------


def _cues(voice: Voice) -> dict[str, re.Pattern[str]]:
    return _compiled_cues(voice.language)


@cache
def _compiled_cues(language: str) -> dict[str, re.Pattern[str]]:
    voice = load_voice(language)
    reading = voice.raw("reading")
    return {key: re.compile(str(value), re.IGNORECASE) for key, value in reading.items()}


@cache
def _pieces(language: str) -> tuple[_Piece, ...]:
    """Every sentence of every prose template of the voice, as a full-sentence pattern."""
    voice = load_voice(language)
    sentence = _compiled_cues(language)["sentence"]
    pieces = []
    for bank, templates in voice.raw("prose").items():
        if bank == "summary":  # the offline extractor's phrasing, not the chapter's
            continue
        for template in templates if isinstance(templates, list) else [templates]:
            for part in _sentences(str(template), sentence):
                pieces.append(_piece(bank, part))
    return tuple(pieces)


def _piece(bank: str, template: str) -> _Piece:
    pattern, literals, seen = [], [], set()
    for fixed, name in _template_parts(template):
        pattern.append(re.escape(fixed))
        literals.append(fixed)
        if name is None:
            continue
        pattern.append(f"(?P={name})" if name in seen else f"(?P<{name}>{PHRASE})")
        seen.add(name)
    literal = max(literals, key=len).strip().casefold()
    return _Piece(bank, re.compile("".join(pattern), re.IGNORECASE), literal)


def _template_parts(template: str) -> Iterator[tuple[str, str | None]]:
    """(fixed text, the placeholder after it or None) through ``template``."""
    at = 0
    for hit in Template.pattern.finditer(template):
        name = hit.group("braced") or hit.group("named")
        yield template[at : hit.start()], name
        at = hit.end()
    yield template[at:], None


def _match(sentence: str, pieces: tuple[_Piece, ...]) -> tuple[str, dict[str, str]] | None:
    folded = sentence.casefold()
    for piece in pieces:
        if piece.literal not in folded:
            continue
        hit = piece.pattern.fullmatch(sentence)
        if hit is not None:
            return piece.bank, hit.groupdict()
    return None


def _sentences(text: str, pattern: re.Pattern[str]) -> Iterator[str]:
    for hit in pattern.finditer(text):
        sentence = hit.group().strip()
        if sentence:
            yield sentence


def _name_forms(names: list[str]) -> dict[str, str]:
    """Every way the text may name a character (full name, and a first name nobody else
    shares), folded, to the name."""
    firsts = [name.split()[0] for name in names if name.split()]
    forms = {name.casefold(): name for name in names}
    for name in names:
        parts = name.split()
        if len(parts) > 1 and firsts.count(parts[0]) == 1:
            forms.setdefault(parts[0].casefold(), name)
    return forms


def _known_places(brief: ExtractionBrief, voice: Voice) -> list[str]:
    located = (person.location for person in brief.state.characters.values())
    places = [*brief.places, brief.plan.setting, *located, *voice.words("extra_places")]
    return [place for place in dict.fromkeys(places) if place]


def _head(item: str, language: str) -> str:
    """The word an item is known by: its last word (its last two characters in Chinese)."""
    folded = item.casefold().strip()
    if language == "zh":
        return folded[-2:]
    words = re.findall(r"[\w'\u2019]+", folded)
    return words[-1] if words else folded


def _whole(text: str, at: int, length: int) -> bool:
    """Whether ``text[at:at+length]`` is a whole word (always, for Chinese)."""
    before = text[at - 1] if at > 0 else " "
    after = text[at + length] if at + length < len(text) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())
