"""``orchestrator state migrate``: move a store, or a run's store, to another backend.

Given a run folder, the run's pointer (``state_url`` in ``run.json``) is
switched once the copy is verified, with one atomic rewrite of ``run.json``;
the run folder is locked meanwhile, so a live run is never migrated under its
feet (a live run migrates itself, online, with ``state.thresholds.action:
migrate``).
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.artifacts.folder import RUN_FILE, RunFolder
from orchestrator.artifacts.ownership import claim_store
from state import MigrationReport, migrate_stores, open_state
from state.errors import MigrationError
from state.models import utc_iso
from state.url import StateURL, parse_state_url, with_default_namespace


def is_run_folder(source: str) -> bool:
    """A SRC without ``://`` that names a folder: a run folder, not a URL."""
    return "://" not in source and Path(source).is_dir()


def destination_url(destination: str, source: StateURL) -> StateURL:
    """The destination, keeping the source's durability unless it names its own."""
    if "durability=" not in destination:
        joiner = "&" if "?" in destination else "?"
        destination += f"{joiner}durability={source.durability}"
    return parse_state_url(destination)


async def migrate_urls(
    source: StateURL, destination: StateURL, force: bool, run: RunFolder | None = None
) -> MigrationReport:
    """Copy ``source`` to ``destination`` and verify; switch ``run`` (if given) to the copy."""

    async def switch() -> None:
        if run is not None:  # a store in the run folder is recorded relative to it
            point_run_at(run, run.record_url(destination.full()))

    return await migrate_stores(source, destination, force=force, on_verified=switch)


def point_run_at(run: RunFolder, url: str) -> None:
    """Rewrite ``run.json`` (atomically) so the run's store is ``url``; keep the old one."""
    meta = run.run_meta()
    meta.setdefault("state_history", []).append({"url": meta["state_url"], "until": utc_iso()})
    meta["state_url"] = url
    run.write_json(RUN_FILE, meta)


async def migrate_run(run_dir: Path, destination: str, force: bool) -> MigrationReport:
    """Migrate the store of the run in ``run_dir`` and switch the run to the copy."""
    run = RunFolder.existing(run_dir)
    run.lock()
    try:
        url = run.store_url()
        async with open_state(url, create=False) as manager:
            await claim_store(manager, run, url)  # never a store this folder is a copy of
        source = parse_state_url(url)
        # A relative destination is taken from the current folder, as the user typed it; a
        # Redis one without a namespace gets the run's id, as a run's state.url does.
        target = destination_url(with_default_namespace(destination, run.run_id), source)
        if str(target) == str(source):
            raise MigrationError(str(source), str(target), f"the run is already on {target}")
        return await migrate_urls(source, target, force, run)
    finally:
        run.unlock()
