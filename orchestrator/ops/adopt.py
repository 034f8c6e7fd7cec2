"""``orchestrator state adopt RUN``: make a copied run folder a run of its own.

A copy of a run folder (``cp -a runs/A runs/B``) holds a copy of the run's
store, which still says it belongs to ``runs/A``; every command that writes
refuses it. Adopting gives the copy a new run id (the folder's name, or a new
one if that is the original's id), records it and this folder in the copy's
store, then in ``run.json``. Killed between the two, the store already names
the new id and this folder: adopting again finishes the job. Only a folder
whose store is a file in it can be adopted: a store elsewhere is the
original's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from orchestrator.artifacts.folder import RUN_FILE, RunFolder, RunFolderError, new_run_id
from orchestrator.artifacts.ownership import RUN_DOC, here, store_in_folder
from state import open_state
from state.models import utcnow

log = structlog.get_logger("orchestrator.ops.adopt")


@dataclass(frozen=True, slots=True)
class Adoption:
    """What ``adopt`` did: the folder's run id before and after."""

    run_dir: Path
    run_id: str
    was: str
    copied_from: str | None

    @property
    def adopted(self) -> bool:
        return self.run_id != self.was

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "adopted": self.adopted,
            "run_id": self.run_id,
            "was": self.was,
            "copied_from": self.copied_from,
        }

    def render(self) -> str:
        if not self.adopted:
            return f"{self.run_dir} is already run {self.run_id!r}, on its own store; nothing to do"
        origin = f" (a copy of {self.copied_from})" if self.copied_from else ""
        return (
            f"{self.run_dir}{origin} is now run {self.run_id!r}, no longer {self.was!r}; "
            f"its own store is in it. Go on with: orchestrator resume {self.run_dir}"
        )


async def adopt_run(folder: RunFolder) -> Adoption:
    """Give ``folder`` (a copy) a run id of its own; the caller holds the run lock."""
    meta = folder.run_meta()
    was = str(meta.get("run_id", folder.run_id))
    url = folder.store_url()
    if not store_in_folder(folder, url):
        raise RunFolderError(
            f"{folder.root}: its store {url} is not in the folder, so a copy of it would share "
            "the original's; only a folder with its own store file can be adopted"
        )
    async with open_state(url, create=False) as manager:
        claimed = await manager.meta(RUN_DOC) or {}
        recorded = claimed.get("folder")
        if recorded == here(folder) and claimed.get("run_id") == was:
            return Adoption(folder.root, was, was, None)
        if recorded == here(folder):
            run_id = str(claimed["run_id"])  # adopted before, killed before run.json said so
        elif claimed and claimed.get("run_id") != was:
            raise RunFolderError(
                f"the state store {url} holds run {claimed.get('run_id')!r}, not this "
                f"folder's run {was!r}; it cannot be adopted"
            )
        else:
            run_id = folder.root.name
            if run_id == was:
                run_id = new_run_id(str(meta.get("title", "")))
        origin = recorded if isinstance(recorded, str) else None
        adopted_from = {"run_id": was, "folder": origin}
        await manager.put_meta(
            RUN_DOC, {"run_id": run_id, "folder": here(folder), "adopted_from": adopted_from}
        )
    meta["adopted_from"] = {"run_id": was, "folder": origin, "at": utcnow().isoformat()}
    meta["run_id"] = run_id
    # By its name in the folder: an old absolute URL was found here through the old run id.
    meta["state_url"] = folder.record_url(url)
    folder.write_json(RUN_FILE, meta)
    log.info("run_adopted", run_id=run_id, was=was, copied_from=origin)
    return Adoption(folder.root, run_id, was, origin)
