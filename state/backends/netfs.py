"""Refuse network file systems, where flock and SQLite WAL are unreliable."""

from __future__ import annotations

from pathlib import Path

NETWORK_FSTYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.s3fs",
        "lustre",
        "gpfs",
        "ncpfs",
    }
)


def mount_fstype(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """The file system type of the mount that holds ``path`` (None if unknown)."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return None
    target = path.resolve()
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = Path(fields[1].replace("\\040", " "))
        if target == mount_point or mount_point in target.parents:
            depth = len(mount_point.parts)
            if best is None or depth > best[0]:
                best = (depth, fields[2])
    return best[1] if best else None


def network_fstype(path: Path) -> str | None:
    """The fstype if ``path`` is on a network file system, else None."""
    fstype = mount_fstype(path)
    return fstype if fstype in NETWORK_FSTYPES else None
