"""The story state store: one async StateManager over pluggable backends."""

from state.errors import (
    CorruptStateError,
    LockTimeoutError,
    SchemaVersionError,
    StateError,
    StateOpenError,
    StateURLError,
    StateWriteError,
)
from state.leases import Holder, Lease, LeaseLostError
from state.manager import StateManager
from state.models import (
    ApplyResult,
    ChapterRecord,
    CharacterState,
    Conflict,
    Event,
    FieldChange,
    FieldRead,
    Foreshadowing,
    RewindResult,
    StateDelta,
    StoryState,
)
from state.open import connect, open_state

__all__ = [
    "ApplyResult",
    "ChapterRecord",
    "CharacterState",
    "Conflict",
    "CorruptStateError",
    "Event",
    "FieldChange",
    "FieldRead",
    "Foreshadowing",
    "Holder",
    "Lease",
    "LeaseLostError",
    "LockTimeoutError",
    "RewindResult",
    "SchemaVersionError",
    "StateDelta",
    "StateError",
    "StateManager",
    "StateOpenError",
    "StateURLError",
    "StateWriteError",
    "StoryState",
    "connect",
    "open_state",
]
