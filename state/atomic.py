"""Atomic file writes: a reader sees the old file or the new one, never a mix.

The recipe: write a temp file with a unique name in the same folder, flush,
fsync, ``os.replace`` over the target, then fsync the folder so the rename
itself survives a power cut. Used for every artifact the project writes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from state.failpoints import failpoint

TEMP_MARK = ".tmp-"


def temp_path_for(target: Path) -> Path:
    """A temp name unique per writer (pid and random token), beside the target."""
    return target.with_name(f".{target.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(target: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``target`` atomically and durably.

    With ``sync_dir=False`` the caller promises to call :func:`fsync_dir`
    before it reports the write as durable (the JSON store does so after it has
    released its lock, so the next writer need not wait for it).
    """
    tmp, fd = create_temp(target)
    try:
        replace_with_temp(target, tmp, fd, data)
    finally:
        os.close(fd)
    if sync_dir:
        fsync_dir(target.parent)


def create_temp(target: Path) -> tuple[Path, int]:
    """A new, empty temp file beside ``target`` (a name of its own), open for writing.

    For writers that make the temp file before they take a lock and fill it
    under the lock with :func:`replace_with_temp`.
    """
    tmp = temp_path_for(target)
    return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def replace_with_temp(target: Path, tmp: Path, fd: int, data: bytes) -> None:
    """Fill the empty temp file ``tmp`` (open as ``fd``), fsync it, rename it over ``target``.

    The same steps and failpoints as :func:`replace_file` without the folder's
    fsync, which the caller does before it reports the write as durable. ``fd``
    stays open (it is the new file's now); the temp file is removed on failure.
    """
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        failpoint("atomic.after_temp_write")
        failpoint("atomic.before_fsync")
        os.fsync(fd)
        failpoint("atomic.before_replace")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    failpoint("atomic.before_dir_fsync")


def write_text(target: Path | str, text: str) -> None:
    """Atomically replace a text file (UTF-8)."""
    replace_file(Path(target), text.encode("utf-8"))


def stale_temp_files(folder: Path) -> list[Path]:
    """Temp files a killed writer left behind (safe to delete once no writer runs)."""
    return sorted(p for p in folder.glob(f".*{TEMP_MARK}*") if p.is_file())
