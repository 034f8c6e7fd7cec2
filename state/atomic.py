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
    tmp = temp_path_for(target)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            failpoint("atomic.after_temp_write")
            handle.flush()
            failpoint("atomic.before_fsync")
            os.fsync(handle.fileno())
        failpoint("atomic.before_replace")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    failpoint("atomic.before_dir_fsync")
    if sync_dir:
        fsync_dir(target.parent)


def write_text(target: Path | str, text: str) -> None:
    """Atomically replace a text file (UTF-8)."""
    replace_file(Path(target), text.encode("utf-8"))


def stale_temp_files(folder: Path) -> list[Path]:
    """Temp files a killed writer left behind (safe to delete once no writer runs)."""
    return sorted(p for p in folder.glob(f".*{TEMP_MARK}*") if p.is_file())
