"""How the offline model proposes a story bible from a premise alone.

A cast of one character per role (``bible.roles`` in the voice: protagonist,
antagonist, ally, mentor), with names, descriptions, starting places, items and
knowledge drawn from the voice's ``bible`` banks by the seeded RNG, so the same
premise always gives the same cast. Every character starts in a place of their
own; the protagonist has a view of everyone, and everyone of the protagonist,
so the planner has relationships to change. The author's world notes come first.
"""

from __future__ import annotations

import random

from agents.offline.voice import Voice, load_voice
from agents.schemas import BibleBrief, BibleCharacter, BibleState, StoryBible

WORLD_NOTES = 3


def draft_bible(brief: BibleBrief, rng: random.Random) -> StoryBible:
    """The cast and world notes for ``brief``, deterministic for a given ``rng`` state."""
    voice = load_voice(brief.language)
    roles: dict[str, str] = voice.raw("bible.roles")
    names = rng.sample(voice.words("bible.names"), len(roles))
    places = rng.sample(voice.words("bible.places"), len(roles))
    items = rng.sample(voice.words("bible.items"), len(roles))
    cast = [
        _character(voice, rng, key, role, name, place, item, names[0])
        for (key, role), name, place, item in zip(roles.items(), names, places, items, strict=True)
    ]
    relations = voice.words("bible.first_relations")
    cast[0].initial.relationships = {
        other.name: relations[index % len(relations)] for index, other in enumerate(cast[1:])
    }
    notes = rng.sample(voice.words("bible.world"), WORLD_NOTES)
    weather = voice.choose(rng, "weather")
    world = [voice.fill(note, place=places[0], weather=weather) for note in notes]
    return StoryBible(cast=cast, world=[*brief.world, *world])


def _character(
    voice: Voice,
    rng: random.Random,
    key: str,
    role: str,
    name: str,
    place: str,
    item: str,
    protagonist: str,
) -> BibleCharacter:
    """One member of the cast: ``key`` is the role's key (protagonist, ...) in the voice."""
    initial = BibleState(
        location=place,
        emotion=voice.choose(rng, "emotions.setup"),
        inventory=[item],
        knowledge=[voice.choose(rng, "bible.knowledge")] if key in ("antagonist", "mentor") else [],
        relationships={} if name == protagonist else {protagonist: voice.choose(rng, "relations")},
    )
    description = voice.fill(voice.choose(rng, f"bible.descriptions.{key}"), name=name)
    return BibleCharacter(name=name, role=role, description=description, initial=initial)
