"""Online migration: move a live StateManager to another store at a safe point.

New operations wait at the manager's gate, the ones in flight finish, the
store is copied and verified (``state.migrate``), the caller's pointer is
switched, and the manager goes on over the new store: the callers keep the
same manager object and never notice, except for the pause.
"""

from __future__ import annotations

from pathlib import Path

from state.manager import StateManager
from state.migrate import MigrationReport, OnVerified, migrate
from state.open import make_backend
from state.url import parse_state_url


async def migrate_online(
    manager: StateManager,
    destination_url: str,
    on_verified: OnVerified | None = None,
    base_dir: Path | None = None,
) -> MigrationReport:
    """Copy the manager's store to ``destination_url`` and switch the manager to it.

    On any failure the manager stays on its store and the destination is closed;
    the caller decides whether the run goes on (it can: nothing changed).
    """
    parsed = parse_state_url(destination_url, base_dir)
    destination = make_backend(parsed)
    await destination.open()
    switched = False

    async def switch() -> None:
        nonlocal switched
        if on_verified is not None:
            await on_verified()
        # From here on the caller's pointer names the copy: the manager follows it even
        # if marking the old store fails below.
        switched = True

    try:
        async with manager.gate.paused():
            source = manager.backend
            try:
                return await migrate(
                    source,
                    destination,
                    source_url=manager.url,
                    destination_url=parsed.full(),
                    on_verified=switch,
                )
            finally:
                if switched:
                    manager.switch_backend(destination, str(parsed))
                    await source.close()
    finally:
        if not switched:
            await destination.close()
