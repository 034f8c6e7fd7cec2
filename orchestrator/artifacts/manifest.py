"""``MANIFEST.json``: every artifact of a run with its size and SHA-256, and checking it.

The manifest is written last, atomically, when a run finishes; ``orchestrator
verify RUN`` recomputes every digest. The state store (it has its own checks),
lock files, logs (appended while a run goes) and temp files are not artifacts.

Some files are the author's to edit (``AUTHOR_FILES``: ``outline.yaml``). The manifest
records the digest of the version the run keeps (``write_manifest``'s ``recorded``),
and ``verify`` lists such a file that differs as ``edited``, not as ``changed``: an
edit is the author's next version, for the run to take in, not damage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.artifacts.folder import RUN_FILE, RunFolder, RunFolderError
from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError
from state.atomic import TEMP_MARK
from state.errors import StateURLError
from state.models import utc_iso
from state.url import parse_state_url

MANIFEST_FILE = "MANIFEST.json"
_SKIPPED_DIRS = ("logs",)
# Not artifacts: the store (it has its own checks), its pointer run.json (a migration
# rewrites it), the lock, the logs and the manifest itself.
_SKIPPED_PREFIXES = ("state.", RUN_FILE, "run.lock", MANIFEST_FILE)
# Files the author edits (see the module's docstring).
AUTHOR_FILES = ("outline.yaml",)


def is_artifact(relative: Path, stores: tuple[str, ...] = ()) -> bool:
    """Whether a file of the run folder belongs in the manifest (``stores``: the names of
    the run's store files in its folder, with their -wal, .lock and other companions)."""
    if relative.parts[0] in _SKIPPED_DIRS or TEMP_MARK in relative.name:
        return False
    if len(relative.parts) != 1:
        return True
    return not relative.name.startswith(_SKIPPED_PREFIXES + stores)


def store_names(folder: RunFolder) -> tuple[str, ...]:
    """The file names, in the run folder, of every store the run has used (a migration
    may have put one beside the default ``state.db``)."""
    try:
        meta = folder.run_meta()
    except RunFolderError:
        return ()
    urls = [meta["state_url"], *(h.get("url", "") for h in meta.get("state_history", []))]
    names = []
    for url in urls:
        try:
            opened = folder.open_url(str(url), str(meta.get("run_id", "")))
            path = parse_state_url(opened).local_file()
        except StateURLError:
            continue
        if path is not None and path.parent == folder.root:
            names.append(path.name)
    return tuple(names)


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def artifacts(folder: RunFolder) -> list[Path]:
    """The artifact files of a run folder, relative, sorted."""
    found = (p.relative_to(folder.root) for p in folder.root.rglob("*") if p.is_file())
    stores = store_names(folder)
    return sorted(p for p in found if is_artifact(p, stores))


def write_manifest(folder: RunFolder, recorded: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """Digest every artifact and write ``MANIFEST.json``; its content. ``recorded`` maps
    an author's file to the file whose digest stands for it (``outline.yaml`` to the
    version the run keeps, which the author may have edited since)."""
    files = []
    stands_for = recorded or {}
    for relative in artifacts(folder):
        source = stands_for.get(relative.as_posix(), folder.root / relative)
        size, sha = file_digest(source)
        files.append({"path": relative.as_posix(), "size": size, "sha256": sha})
    manifest = {
        "run_id": folder.run_id,
        "created_at": utc_iso(),
        "digest": _listing_digest(files),
        "files": files,
    }
    folder.write_json(MANIFEST_FILE, manifest)
    return manifest


def refresh_entry(folder: RunFolder, name: str) -> None:
    """Make one file's size and digest in the manifest current (no manifest: nothing), as
    when the run itself changed it (``resume --set`` and ``config.yaml``). Only that entry:
    any other file that no longer matches still shows in ``verify``."""
    if not folder.path(MANIFEST_FILE).exists():
        return
    manifest = folder.read_json(MANIFEST_FILE)
    size, sha = file_digest(folder.path(name))
    entry = {"path": name, "size": size, "sha256": sha}
    files = [e for e in manifest["files"] if e["path"] != name] + [entry]
    files.sort(key=lambda e: Path(e["path"]))  # the order write_manifest lists them in
    manifest.update(files=files, digest=_listing_digest(files))
    folder.write_json(MANIFEST_FILE, manifest)


def _listing_digest(files: list[dict[str, Any]]) -> str:
    listing = json.dumps(files, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(listing).hexdigest()


@dataclass
class Verification:
    """What ``verify`` found: files missing, changed, and not in the manifest."""

    run_dir: Path
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # author's files, edited: not damage
    unlisted: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "ok": self.ok,
            "checked": self.checked,
            "missing": self.missing,
            "changed": self.changed,
            "edited": self.edited,
            "unlisted": self.unlisted,
            "digest": self.digest,
        }

    def render(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        lines = [f"{self.run_dir}: {verdict} ({self.checked} files checked)"]
        lines += [f"  missing   {path}" for path in self.missing]
        lines += [f"  changed   {path}" for path in self.changed]
        lines += [
            f"  edited    {path} (by the author: a new version to take in)" for path in self.edited
        ]
        lines += [f"  unlisted  {path} (not in the manifest)" for path in self.unlisted]
        return "\n".join(lines)


class ManifestError(OrchestratorError):
    """A run folder without a readable manifest."""

    exit_code = EXIT_BAD_INPUT


def verify(folder: RunFolder) -> Verification:
    """Recompute every digest the manifest lists."""
    path = folder.path(MANIFEST_FILE)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist (the run has not finished)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path} is not a valid manifest: {exc}") from None
    result = Verification(folder.root, digest=str(manifest.get("digest", "")))
    listed = set()
    for entry in files:
        listed.add(entry["path"])
        result.checked += 1
        target = folder.root / entry["path"]
        if not target.is_file():
            result.missing.append(entry["path"])
        elif file_digest(target) != (entry["size"], entry["sha256"]):
            kind = result.edited if entry["path"] in AUTHOR_FILES else result.changed
            kind.append(entry["path"])
    result.unlisted = [p.as_posix() for p in artifacts(folder) if p.as_posix() not in listed]
    return result
