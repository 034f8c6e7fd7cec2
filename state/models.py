"""Typed records of the story state, and the StateDelta a chapter commits.

Documents live under two-part keys, ``<kind>/<id>``: ``characters/Mara``,
``foreshadowing/the-letter``, ``conflicts/succession``. A StateDelta sets
top-level fields of such documents; the story state is the fold of the kept
deltas, in chapter order, over the initial state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from state.jsontypes import JSON

CHARACTERS = "characters"
FORESHADOWING = "foreshadowing"
CONFLICTS = "conflicts"
STORY_KINDS: tuple[str, ...] = (CHARACTERS, FORESHADOWING, CONFLICTS)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterState(_Record):
    """Where a character is, how they feel, what they hold and know."""

    name: str
    role: str = ""
    alive: bool = True
    emotion: str = "neutral"
    location: str = ""
    relationships: dict[str, str] = Field(default_factory=dict)
    inventory: list[str] = Field(default_factory=list)
    knowledge: list[str] = Field(default_factory=list)
    traits: dict[str, JSON] = Field(default_factory=dict)


class Foreshadowing(_Record):
    """A thread in the foreshadowing ledger: planned, planted, paid off."""

    id: str
    description: str = ""
    status: Literal["planned", "planted", "paid_off"] = "planned"
    planted_in: int | None = None
    paid_off_in: int | None = None
    payoff_due: int | None = None


class Conflict(_Record):
    """A conflict of the plot, open until a chapter resolves it."""

    id: str
    description: str = ""
    status: Literal["open", "resolved"] = "open"
    resolved_in: int | None = None


class ChapterRecord(_Record):
    """What the store knows of one chapter: its status and the kept attempt."""

    chapter: int = Field(ge=1)
    status: Literal["pending", "writing", "written", "revised", "failed"] = "pending"
    attempt: int = Field(default=0, ge=0)
    title: str = ""
    digest: str | None = None
    word_count: int = Field(default=0, ge=0)
    summary: str = ""
    read_version: int | None = None
    prompt_tokens: int = Field(default=0, ge=0, description="size of what the writer was given")
    continuations: int = Field(default=0, ge=0, description="replies that continued the chapter")
    stop_reason: str | None = Field(default=None, description="why the writer's last reply ended")
    error: str | None = None


def _story_key(key: str) -> str:
    kind, _, ident = key.partition("/")
    if kind not in STORY_KINDS or not ident or "/" in ident:
        raise ValueError(
            f"key must be <kind>/<id> with kind one of {', '.join(STORY_KINDS)}, got {key!r}"
        )
    return key


def _field_name(field: str) -> str:
    if not field or "/" in field:
        raise ValueError(f"field must be a top-level field name, got {field!r}")
    return field


StoryKey = Annotated[str, AfterValidator(_story_key)]
FieldName = Annotated[str, AfterValidator(_field_name)]


class FieldChange(_Record):
    """One field of one document, from ``old`` to ``new``."""

    key: StoryKey
    field: FieldName
    old: JSON = None
    new: JSON = None


class FieldRead(_Record):
    """A field a chapter relied on, and the value it read (part of its read set)."""

    key: StoryKey
    field: FieldName
    value: JSON = None


class StateDelta(_Record):
    """The field-level changes one attempt at one chapter made, and what it read.

    ``reads`` is the chapter's read set beyond the ``old`` values of its
    changes: fields it relied on without changing them (a character on stage
    being alive, what they hold and know). ``apply`` reports a read that no
    longer matches the state as of the chapter as a conflict.
    """

    run_id: str = "default"
    chapter: int = Field(ge=1)
    attempt: int = Field(default=1, ge=1)
    author: str = ""
    reason: str = Field(default="", description="why this attempt was made")
    changes: list[FieldChange] = Field(default_factory=list)
    reads: list[FieldRead] = Field(default_factory=list)
    record: ChapterRecord | None = None

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.chapter}:{self.attempt}"


class Event(_Record):
    """A committed StateDelta as it sits in the history."""

    kind: Literal["delta"] = "delta"
    seq: int
    idempotency_key: str
    run_id: str
    chapter: int
    attempt: int
    author: str = ""
    reason: str = ""
    digest: str | None = Field(default=None, description="SHA-256 of the attempt's text")
    at: UtcTime
    changes: list[FieldChange]
    reads: list[FieldRead] = Field(default_factory=list)
    superseded: bool = False


class Conflicting(_Record):
    """A change whose ``old`` differs from the state the chapter should have read."""

    key: str
    field: str
    expected: JSON = None
    actual: JSON = None


class ApplyResult(_Record):
    """What ``apply`` did: applied or a duplicate, and what it contradicted."""

    applied: bool
    duplicate: bool
    kind: Literal["delta"] = "delta"
    seq: int
    idempotency_key: str
    conflicts: list[Conflicting] = Field(default_factory=list)
    invalidated_chapters: list[int] = Field(default_factory=list)


class RewindResult(_Record):
    """What ``StateManager.rewind`` dropped."""

    to_chapter: int
    chapters: list[int] = Field(default_factory=list)  # chapters forgotten
    fields: int = 0  # field settings removed from the state
    seq: int | None = None  # the rewind event, if anything was dropped


class StoryState(_Record):
    """The story as some set of chapters left it."""

    characters: dict[str, CharacterState] = Field(default_factory=dict)
    foreshadowing: dict[str, Foreshadowing] = Field(default_factory=dict)
    conflicts: dict[str, Conflict] = Field(default_factory=dict)
    version: int = 0

    def documents(self) -> dict[str, dict[str, JSON]]:
        """The state as keyed documents, the form the store keeps."""
        docs: dict[str, dict[str, JSON]] = {}
        for kind in STORY_KINDS:
            for ident, item in getattr(self, kind).items():
                docs[f"{kind}/{ident}"] = item.model_dump(mode="json")
        return docs

    @classmethod
    def from_documents(cls, docs: dict[str, JSON], version: int = 0) -> StoryState:
        grouped: dict[str, dict[str, JSON]] = {kind: {} for kind in STORY_KINDS}
        for key, doc in docs.items():
            kind, _, ident = key.partition("/")
            if kind in grouped:
                identity = "name" if kind == CHARACTERS else "id"
                # A document created by a delta may not repeat its own id.
                grouped[kind][ident] = {identity: ident, **doc}
        return cls.model_validate({**grouped, "version": version})


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime | None = None) -> str:
    """A moment (default now) as every file of a run writes one: UTC, ISO 8601, to the
    microsecond, with ``Z`` (``2025-03-01T09:30:00.000000Z``); ``datetime.fromisoformat``
    reads it back."""
    return (moment or utcnow()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# A datetime field that serializes to JSON as ``utc_iso`` writes it.
UtcTime = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
