from pathlib import Path

from state.backends.netfs import mount_fstype

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
server:/export /mnt/books nfs4 rw,relatime 0 0
//nas/share /mnt/nas\\040drive cifs rw 0 0
tmpfs /mnt/books/cache tmpfs rw 0 0
"""


def _mounts(tmp_path: Path) -> Path:
    path = tmp_path / "mounts"
    path.write_text(MOUNTS)
    return path


def test_deepest_mount_wins(tmp_path: Path) -> None:
    mounts = _mounts(tmp_path)
    assert mount_fstype(Path("/mnt/books/novel/state.db"), mounts) == "nfs4"
    assert mount_fstype(Path("/mnt/books/cache/state.db"), mounts) == "tmpfs"
    assert mount_fstype(Path("/home/writer/state.db"), mounts) == "ext4"


def test_escaped_spaces_in_mount_points(tmp_path: Path) -> None:
    assert mount_fstype(Path("/mnt/nas drive/state.json"), _mounts(tmp_path)) == "cifs"
