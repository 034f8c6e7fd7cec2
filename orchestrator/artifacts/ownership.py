"""Which run folder a state store belongs to: what keeps a copy from writing the original's.

A store keeps a small ``run`` document: the id of the run it holds and the
folder it was last written from (resolved). Every command that writes a run's
store (``run``, ``resume``, ``state rollback``, ``state migrate``, ``worker``)
checks it first, under the folder's ``run.lock``:

- the same folder, or none recorded yet (a store from before this record):
  this folder's store; the folder is recorded;
- another folder that no longer holds this run (it was moved or deleted):
  the folder moved here; the new place is recorded;
- another folder that still holds this run: this folder is a copy of it.
  Refused: a copy's own store (a file in the folder) is a copy too, and
  ``orchestrator state adopt`` makes it a run of its own, with a new id; a
  store outside the folder (Redis, a path the project file named) is the
  original's, and only the original writes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import structlog

from orchestrator.artifacts.folder import RUN_FILE, RunFolder, RunFolderError
from state import StateManager
from state.url import parse_state_url

log = structlog.get_logger("orchestrator.artifacts.ownership")

RUN_DOC = "run"  # the store's meta document naming its run and folder


def here(folder: RunFolder) -> str:
    """The folder as the store records it: resolved, so a symlink is not a move."""
    return str(folder.root.resolve())


def store_in_folder(folder: RunFolder, url: str) -> bool:
    """Whether the store ``url`` names is a file of this folder (a copy copies it)."""
    path = parse_state_url(url, folder.root).local_file()
    return path is not None and path.resolve().parent == folder.root.resolve()


def copied_from(folder: RunFolder, claimed: dict[str, Any]) -> Path | None:
    """The folder this one is a copy of: the one the store was last written from, when it
    is another folder that still holds the same run; None otherwise."""
    recorded = claimed.get("folder")
    if not isinstance(recorded, str) or recorded == here(folder):
        return None
    other = Path(recorded)
    try:
        if os.path.samefile(other, folder.root):
            return None
        meta = json.loads((other / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # gone, or no run there any more: the folder was moved here
    if not isinstance(meta, dict) or meta.get("run_id") != claimed.get("run_id"):
        return None
    return other


def copy_refusal(folder: RunFolder, url: str, original: Path) -> str:
    """What to do about a copy: adopt it (its own store), or use the original."""
    if store_in_folder(folder, url):
        return (
            f"{folder.root}: this folder's store is a copy; it was last written from "
            f"{original}, which still holds run {folder.run_id!r}. Nothing was written. To "
            f"make this copy a run of its own (a new run id): orchestrator state adopt "
            f"{folder.root}; to go on with the original, use {original}"
        )
    return (
        f"{folder.root} is a copy of {original}, and its store {url} belongs to that "
        f"folder. Nothing was written. Go on with the run in {original}, or start a new run"
    )


async def check_owner(manager: StateManager, folder: RunFolder, url: str) -> dict[str, Any]:
    """Refuse a store that holds another run, or that belongs to the folder this one is a
    copy of; the store's ``run`` document (empty for a new store)."""
    claimed = await manager.meta(RUN_DOC)
    if claimed is None:
        return {}
    if claimed.get("run_id") != folder.run_id:
        raise RunFolderError(
            f"the state store {url} holds run {claimed.get('run_id')!r}, not this folder's run "
            f"{folder.run_id!r} ({folder.path(RUN_FILE)}); nothing was written"
        )
    original = copied_from(folder, claimed)
    if original is not None:
        raise RunFolderError(copy_refusal(folder, url, original))
    return dict(claimed)


async def check_claim(
    manager: StateManager, folder: RunFolder, url: str, *, new_run: bool = False
) -> dict[str, Any]:
    """Refuse a store this folder's run may not write (another run's, a story of no run,
    the original of a copy); the store's ``run`` document. Writes nothing."""
    claimed = await manager.meta(RUN_DOC)
    if new_run and claimed is not None and claimed.get("run_id") != folder.run_id:
        raise RunFolderError(
            f"the state store {url} already holds run {claimed.get('run_id')!r}; "
            "give this run its own store (state.url) or leave state.url unset"
        )
    if claimed is None and await manager.is_initialized():
        raise RunFolderError(f"the state store {url} already holds a story; use a new store")
    return await check_owner(manager, folder, url)


async def claim_store(
    manager: StateManager, folder: RunFolder, url: str, *, new_run: bool = False
) -> None:
    """Make sure the store is this folder's run's before anything is written to it, and
    record this folder as the one it was last written from (a moved folder re-records)."""
    claimed = await check_claim(manager, folder, url, new_run=new_run)
    if claimed.get("folder") == here(folder) and claimed.get("run_id") == folder.run_id:
        return
    if isinstance(claimed.get("folder"), str):
        log.info("run_folder_moved", run_id=folder.run_id, was=claimed["folder"], now=here(folder))
    await manager.put_meta(RUN_DOC, {**claimed, "run_id": folder.run_id, "folder": here(folder)})
