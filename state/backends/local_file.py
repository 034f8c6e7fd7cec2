"""What the two single-machine backends share: a file, its lock, and the folder checks."""

from __future__ import annotations

from pathlib import Path

from state.backend import Backend, Durability
from state.errors import NetworkFilesystemError, StateOpenError
from state.netfs import network_fstype
from state.proclock import ProcessLock


class LocalFileBackend(Backend):
    """A store in one file on a local disk, written under ``<file>.lock``."""

    def __init__(
        self,
        path: Path,
        durability: Durability = "full",
        lock_timeout_s: float = 60.0,
        allow_network_fs: bool = False,
        create: bool = True,
    ) -> None:
        super().__init__(str(path), durability)
        self.path = path
        self.lock = ProcessLock(path.with_name(path.name + ".lock"), lock_timeout_s)
        self.allow_network_fs = allow_network_fs
        self.create = create

    def check_folder(self) -> None:
        """The folder must exist and be local (flock and WAL are unreliable on network disks)."""
        folder = self.path.parent
        if not folder.is_dir():
            raise StateOpenError(str(self.path), f"the folder {folder} does not exist")
        fstype = network_fstype(folder)
        if fstype and not self.allow_network_fs:
            raise NetworkFilesystemError(str(folder), fstype)
        if not self.create and not self.path.exists():
            raise StateOpenError(str(self.path), "there is no state store at this path")
