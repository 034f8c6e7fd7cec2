"""The story state store: one async StateManager over pluggable backends.

This module, with ``state.models``, ``state.errors``, ``state.url`` and
``state.atomic``, is the store's face: code outside ``state/`` imports only
these (an import-linter contract checks it).
"""

from state.backend import HealthCheck
from state.errors import (
    CorruptStateError,
    LockTimeoutError,
    SchemaVersionError,
    StateError,
    StateOpenError,
    StateURLError,
    StateWriteError,
)
from state.leases import Holder, Lease, LeaseLostError, check_fence, claim_in, lease_key
from state.manager import StateManager
from state.metrics import summarize
from state.migrate import MigrationReport, public_url, read_all
from state.migrate_live import migrate_online
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
from state.open import connect, drop_store, migrate_stores, open_state
from state.thresholds import Limits, ThresholdMonitor, WindowFigures, recommended_backend
from state.transaction import Transaction

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
    "HealthCheck",
    "Holder",
    "Lease",
    "LeaseLostError",
    "Limits",
    "LockTimeoutError",
    "MigrationReport",
    "RewindResult",
    "SchemaVersionError",
    "StateDelta",
    "StateError",
    "StateManager",
    "StateOpenError",
    "StateURLError",
    "StateWriteError",
    "StoryState",
    "ThresholdMonitor",
    "Transaction",
    "WindowFigures",
    "check_fence",
    "claim_in",
    "connect",
    "drop_store",
    "lease_key",
    "migrate_online",
    "migrate_stores",
    "open_state",
    "public_url",
    "read_all",
    "recommended_backend",
    "summarize",
]
