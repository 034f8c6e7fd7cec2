"""A run's watch over its state store: thresholds, warnings, and online migration.

Every state operation feeds a ``ThresholdMonitor``. When the store stays over
a threshold (``state.thresholds`` in the project file) the run logs one
structured warning per window with the figures and the backend to move to;
with ``action: migrate`` it also migrates the store online, once: the store is
copied and verified at a safe point, ``run.json`` is switched to the new store
atomically, and the run goes on there. Both are recorded in the store's
metrics (``manager.metrics.events``), hence in ``metrics.json`` and the summary.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from orchestrator.artifacts.folder import RunFolder
from orchestrator.ops.migrate_run import point_run_at
from orchestrator.project.config import Thresholds
from state import (
    StateManager,
    ThresholdMonitor,
    WindowFigures,
    migrate_online,
    public_url,
    recommended_backend,
)
from state.errors import StateError
from state.models import utc_iso
from state.url import StateURL, parse_state_url, with_default_namespace

log = structlog.get_logger("orchestrator.state")

# (event name, fields): the run's observer (display, --json).
Observer = Callable[[str, dict[str, Any]], None]


class StoreWatch:
    """Watches one run's store; ``url`` is the store the run is on now."""

    def __init__(
        self,
        thresholds: Thresholds,
        manager: StateManager,
        folder: RunFolder,
        url: str,
        durability: str,
        observer: Observer,
        base_dir: Path,
    ) -> None:
        self.thresholds = thresholds
        self.base_dir = base_dir  # a relative migrate_to is taken from the project file's folder
        self.manager = manager
        self.folder = folder
        self.url = url
        self.durability = durability
        self._observe = observer
        self.monitor = ThresholdMonitor(thresholds, self._crossed)
        self._task: asyncio.Task[None] | None = None
        manager.metrics.listeners.append(self.monitor.observe)

    # -- a threshold crossed -------------------------------------------------------

    def _crossed(self, figures: WindowFigures) -> None:
        if self._task is not None and not self._task.done():
            return  # the migration this crossing would ask for is under way
        scheme = self.manager.backend.scheme
        destination = self._destination() if self.thresholds.action == "migrate" else None
        event: dict[str, Any] = {
            "event": "threshold_crossed",
            "at": utc_iso(),
            "backend": scheme,
            "recommended_backend": recommended_backend(scheme),
            "action": "migrate" if destination else "warn",
            **figures.to_dict(),
        }
        if self.thresholds.action == "migrate" and destination is None:
            event["note"] = self._why_not_migrating()
        self._record("state_threshold_crossed", event, warning=True)
        if destination is not None:
            # A task of its own, with a fresh context: this runs inside a transaction's
            # exit, and the migration waits for every transaction to finish.
            self._task = asyncio.get_running_loop().create_task(
                self._migrate(destination), context=contextvars.Context()
            )

    def _destination(self) -> StateURL | None:
        """Where ``action: migrate`` moves the store now; None when it does not (yet).

        JSON moves to SQLite in the run folder unless ``migrate_to`` says otherwise;
        anything else only to ``migrate_to``. A Redis ``migrate_to`` without a namespace
        gets the run's id, as ``state.url`` does: runs on one server never share a store.
        """
        if self._task is not None:
            return None  # one migration per run process
        target = self.thresholds.migrate_to
        if target is None and self.manager.backend.scheme == "json":
            target = f"sqlite://{self._free_sqlite_path()}"
        if target is None:
            return None
        target = with_default_namespace(target, self.folder.run_id)
        if "durability=" not in target:
            target += ("&" if "?" in target else "?") + f"durability={self.durability}"
        parsed = parse_state_url(target, self.base_dir)
        if str(parsed) == self.manager.url:
            return None
        return parsed

    def _free_sqlite_path(self) -> str:
        """``state.db`` in the run folder, or ``state.2.db`` ... if that is taken."""
        path, n = self.folder.state_path, 1
        while path.exists():
            n += 1
            path = self.folder.path(f"state.{n}.db")
        return str(path)

    def _why_not_migrating(self) -> str:
        if self._task is not None:
            return "the store was already migrated (or is migrating) in this run"
        target = self.thresholds.migrate_to
        if target is None:
            return "no destination: set state.thresholds.migrate_to (e.g. redis://host:6379/0)"
        return f"already on {public_url(target)}"

    # -- migrating online ----------------------------------------------------------

    async def _migrate(self, target: StateURL) -> None:
        # Opened with its password (if it has one); recorded everywhere without it.
        source, destination, started = self.url, target.full(), time.perf_counter()
        moving = {"from": public_url(source), "to": destination}
        self._observe("state_migrating", moving)
        try:
            report = await migrate_online(
                self.manager,
                target.full(secret=True),
                on_verified=lambda: self._switch(destination),
            )
        except (StateError, OSError) as exc:
            failed = {"event": "migration_failed", "at": utc_iso(), "error": str(exc)}
            self._record("state_migration_failed", failed, warning=True)
            return
        self.url = destination
        self.monitor.reset()
        done = {
            "event": "migrated",
            "at": utc_iso(),
            "t_s": round(time.monotonic() - self.manager.metrics.started, 3),
            "from": public_url(source),
            "to": destination,
            "pause_s": round(time.perf_counter() - started, 3),
            "sha256": report.digest.sha256,
            "documents": report.digest.documents,
            "events": report.digest.events,
        }
        self._record("state_migrated", done, warning=False)

    async def _switch(self, destination: str) -> None:
        """Point ``run.json`` at the verified copy (one atomic rename): the switch itself.
        The default destination, in the run folder, is recorded relative to it."""
        if self.thresholds.migrate_to is None:
            destination = self.folder.record_url(destination)
        await asyncio.to_thread(point_run_at, self.folder, destination)

    def _record(self, name: str, event: dict[str, Any], warning: bool) -> None:
        self.manager.metrics.events.append(event)
        fields = {k: v for k, v in event.items() if k != "event"}
        (log.warning if warning else log.info)(name, **fields)
        self._observe(name, fields)

    async def settle(self) -> None:
        """Wait for a migration in flight to end, and stop watching.

        A run that fails before this leaves its migration task to be cancelled
        with the run's other tasks: the source stays complete until the switch,
        and after it the copy is complete and verified.
        """
        if self._task is not None:
            await asyncio.shield(self._task)
        if self.monitor.observe in self.manager.metrics.listeners:
            self.manager.metrics.listeners.remove(self.monitor.observe)
