"""The story state store: one async StateManager over pluggable backends.

This module, with ``state.models``, ``state.errors``, ``state.url`` and
``state.atomic``, is the store's face: code outside ``state/`` imports only
these (an import-linter contract checks it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name of the face and the module it is in. A name is imported when first used
# (PEP 562), so that ``import state.errors`` or ``state.models`` does not import every
# backend, redis and structlog: the command line starts faster for commands that need
# only a model or an error class.
_WHERE = {
    "ApplyResult": "state.models",
    "ChapterRecord": "state.models",
    "CharacterState": "state.models",
    "Conflict": "state.models",
    "CorruptStateError": "state.errors",
    "Event": "state.models",
    "FieldChange": "state.models",
    "FieldRead": "state.models",
    "Foreshadowing": "state.models",
    "HealthCheck": "state.backend",
    "Holder": "state.leases",
    "Lease": "state.leases",
    "LeaseLostError": "state.leases",
    "Limits": "state.thresholds",
    "LockTimeoutError": "state.errors",
    "MigrationReport": "state.migrate",
    "RewindResult": "state.models",
    "SchemaVersionError": "state.errors",
    "StateDelta": "state.models",
    "StateError": "state.errors",
    "StateManager": "state.manager",
    "StateOpenError": "state.errors",
    "StateURLError": "state.errors",
    "StateWriteError": "state.errors",
    "StoryState": "state.models",
    "ThresholdMonitor": "state.thresholds",
    "Transaction": "state.transaction",
    "WindowFigures": "state.thresholds",
    "check_fence": "state.leases",
    "claim_in": "state.leases",
    "connect": "state.open",
    "drop_store": "state.open",
    "lease_key": "state.leases",
    "migrate_online": "state.migrate_live",
    "migrate_stores": "state.open",
    "open_state": "state.open",
    "public_url": "state.migrate",
    "read_all": "state.migrate",
    "recommended_backend": "state.thresholds",
    "summarize": "state.metrics",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


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
