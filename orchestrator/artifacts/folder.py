"""A run's folder: where every artifact of one run lives, each written atomically.

::

    runs/<run-id>/
      run.json            who, what and when: the run id, the title, the state URL
                          (the default store as ``sqlite://state.db``: relative to the folder),
                          and each ``resume --set`` (``config_changes``)
      config.yaml         the project file as used (with any --set overrides applied, a
                          resume's too)
      outline.json        the outline (also kept in the state store)
      outline.md          the same, for people
      drafts/012-2.md     every attempt at every chapter, written before its delta commits
      chapters/012.md     the kept attempt of each chapter
      manuscript.md       title page, contents, every chapter
      manuscript.epub     the same as an e-book
      findings.json       what the continuity pass found
      metrics.json        state store and model figures
      summary.json        the outcome (``orchestrator status`` reads it)
      state.db            the state store, unless the config names another
      logs/run.jsonl      structlog JSON lines

A draft is durable before the delta that names it is committed, so a crash
never leaves a committed chapter without its text.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from filelock import FileLock, Timeout

from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError
from state import HealthCheck
from state.atomic import replace_file
from state.errors import StateURLError
from state.url import parse_state_url

RUN_FILE = "run.json"
LOCK_FILE = "run.lock"
SUMMARY_FILE = "summary.json"
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


MIN_FREE_MB = 100  # the free space a run wants before it writes (orchestrator.min_free_mb)


class RunFolderError(OrchestratorError):
    """The run folder cannot be used: it belongs to another run, or it cannot be written."""

    exit_code = EXIT_BAD_INPUT


class DiskSpaceError(RunFolderError):
    """Too little free space to start writing."""


def disk_check(path: Path, min_free_mb: int) -> HealthCheck:
    """Free space where ``path`` lives."""
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return HealthCheck("disk", False, f"cannot read the free space of {path}: {exc.strerror}")
    free_mb = usage.free // (1024 * 1024)
    return HealthCheck(
        "disk",
        free_mb >= min_free_mb,
        f"{free_mb:,} MB free at {path} (want at least {min_free_mb:,} MB)",
        data={"free_mb": free_mb},
    )


def ensure_disk_space(path: Path, min_free_mb: int = MIN_FREE_MB) -> None:
    """The quick check before a run writes: refuse to start on a (nearly) full disk.

    ``path`` need not exist yet (a run folder about to be made): the free space is
    that of its nearest existing parent, the disk it will be made on.
    """
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    check = disk_check(path, min_free_mb)
    if not check.ok:
        raise DiskSpaceError(f"not starting: {check.detail}; free some space first")


def new_run_id(title: str, now: datetime | None = None) -> str:
    """``20261121-101502-the-lamplighters-ledger-3f9a``: sortable, readable, unique."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    slug = _SLUG_CHARS.sub("-", title.lower()).strip("-")[:40].strip("-")
    parts = [stamp, slug, secrets.token_hex(2)] if slug else [stamp, secrets.token_hex(2)]
    return "-".join(parts)


def chapter_stem(number: int) -> str:
    """``012`` for chapter 12 (wider for books over 999 chapters)."""
    return f"{number:03d}"


_HOLDER = re.compile(r"pid (?P<pid>\d+) on (?P<host>\S+)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _write_holder(fd: int) -> None:
    """Put who holds ``run.lock`` into it, for the message a second process gets."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)


class RunFolder:
    """The paths of one run and atomic writes into them."""

    def __init__(self, root: Path) -> None:
        # Absolute, so that paths it hands out stay right whatever the cwd.
        self.root = root.absolute()
        self._lock: FileLock | None = None
        self._made: list[Path] = []  # what this process created, for ``discard``

    @classmethod
    def existing(cls, root: Path) -> RunFolder:
        """The folder of a run that has started (it has ``run.json``)."""
        if not (root / RUN_FILE).is_file():
            if (root / "drafts").is_dir():
                raise RunFolderError(
                    f"{root} has no {RUN_FILE}: its run stopped before it started; "
                    f"start it again with: orchestrator run CONFIG --run-dir {root}"
                )
            raise RunFolderError(f"{root} is not a run folder (no {RUN_FILE})")
        return cls(root)

    @staticmethod
    def check_new(root: Path) -> None:
        """Refuse, creating nothing, a folder a new run cannot be made in: a file, or a
        folder that already holds a run."""
        root = root.absolute()
        if root.exists() and not root.is_dir():
            raise RunFolderError(f"cannot create the run folder {root}: it is a file")
        if (root / RUN_FILE).exists():
            raise RunFolderError(
                f"{root} already holds a run ({RUN_FILE} exists); choose another --run-dir"
            )

    @classmethod
    def create(cls, root: Path) -> RunFolder:
        """A new run folder; an existing one that already holds a run is refused."""
        cls.check_new(root)
        folder = cls(root)
        try:
            for sub in ("", "drafts", "chapters", "logs"):
                folder._make_dir(folder.root / sub)
        except OSError as exc:
            folder.discard()
            raise RunFolderError(
                f"cannot create the run folder {folder.root}: {exc.strerror}"
            ) from None
        return folder

    def _make_dir(self, path: Path) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        self._made.extend(reversed(missing))  # outermost first

    def discard(self) -> None:
        """Remove exactly what this process created in making and locking the folder
        (a run refused before it started); a folder that was there is left as it was."""
        self.unlock()
        for path in reversed(self._made):  # innermost first
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self._made.clear()

    @property
    def run_id(self) -> str:
        """The run's id as ``run.json`` records it (a copied or moved folder keeps it); the
        folder's name for a new run, until ``run.json`` is written."""
        try:
            meta = json.loads((self.root / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return self.root.name
        run_id = meta.get("run_id") if isinstance(meta, dict) else None
        return run_id if isinstance(run_id, str) and run_id else self.root.name

    @property
    def state_path(self) -> Path:
        return self.root / "state.db"

    @property
    def log_path(self) -> Path:
        return self.root / "logs" / "run.jsonl"

    def path(self, name: str) -> Path:
        return self.root / name

    def draft_path(self, chapter: int, attempt: int) -> Path:
        return self.root / "drafts" / f"{chapter_stem(chapter)}-{attempt}.md"

    def chapter_path(self, chapter: int) -> Path:
        return self.root / "chapters" / f"{chapter_stem(chapter)}.md"

    def lock(self) -> None:
        """Hold this run until ``unlock`` (or while this object lives); a second process
        is refused.

        ``filelock`` on ``run.lock`` (``flock`` underneath): the kernel drops it
        when the holder dies, so a killed run never blocks its own resume. One
        try, no wait; the holder writes who it is into the file for the refusal.
        """
        path = self.root / LOCK_FILE
        made = not path.exists()
        lock = FileLock(
            path,
            mode=0o644,
            thread_local=False,  # held by the process, whichever thread lets go
            fallback_to_soft=False,  # a lock file that outlives its killed holder is no lock
            preserve_lock_file=True,  # the refused reads the holder's line from it
            on_acquired=_write_holder,
        )
        try:
            lock.acquire(blocking=False)
        except Timeout:
            holder = path.read_text(encoding="utf-8").strip() or "another process"
            raise RunFolderError(
                f"{self.root} is being written by {holder}; wait for it to finish "
                "(or stop it) before running or resuming this run"
            ) from None
        self._lock = lock
        if made:
            self._made.append(path)

    def language(self) -> str:
        """The book's language, from the run's copy of its project file (en if unreadable)."""
        try:
            config = yaml.safe_load(self.path("config.yaml").read_text(encoding="utf-8"))
            return str(config["project"]["language"])
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            return "en"

    def writer(self) -> tuple[str, bool | None] | None:
        """Who holds ``run.lock`` as far as this machine can tell, without touching the lock
        (a probe could make a concurrent ``resume`` fail its one try): None when nobody
        wrote the run or its writer is gone; else the holder's line and whether it is alive
        (None: on another host, where this machine cannot look)."""
        try:
            line = (self.root / LOCK_FILE).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        found = _HOLDER.fullmatch(line)
        if found is None:
            return None
        if found["host"] != socket.gethostname():
            return line, None
        return (line, True) if _pid_alive(int(found["pid"])) else None

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def write_text(self, target: Path | str, text: str) -> Path:
        return self.write_bytes(target, text.encode("utf-8"))

    def write_bytes(self, target: Path | str, data: bytes) -> Path:
        path = self.root / target
        replace_file(path, data)
        return path

    def write_json(self, name: str, data: Any) -> Path:
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        return self.write_text(name, text)

    def read_json(self, name: str) -> Any:
        path = self.root / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunFolderError(f"{path} cannot be read as JSON: {exc}") from None

    def run_meta(self) -> dict[str, Any]:
        """``run.json``: the run id, the title, the state URL."""
        meta = self.read_json(RUN_FILE)
        if not isinstance(meta, dict) or not isinstance(meta.get("state_url"), str):
            raise RunFolderError(f"{self.root / RUN_FILE} is not a run record (no state_url)")
        return meta

    def store_url(self) -> str:
        """The URL that opens the run's store (``state_url`` in ``run.json``) from here."""
        meta = self.run_meta()
        return self.open_url(meta["state_url"], str(meta.get("run_id", "")))

    def open_url(self, recorded: str, run_id: str = "") -> str:
        """A store URL ``run.json`` recorded, as this folder opens it.

        A relative file (the default ``sqlite://state.db``) is in this folder. So is an
        absolute one that was in the folder the run started in, which bore the run's name
        (run folders before 2026-11 recorded their store so): a copied or moved folder
        opens its own copy, never the original's. Anything else (a store the project file
        or ``state migrate`` named, Redis) is opened as recorded.
        """
        try:
            parsed = parse_state_url(recorded, self.root)
        except StateURLError:
            return recorded  # opening it says what is wrong
        path = parsed.local_file()
        if path is None:
            return recorded
        if path.parent == self.root:
            return parsed.full()
        own = self.root / path.name
        if run_id and path.parent.name == run_id and own.exists():
            return replace(parsed, path=own).full()
        return recorded

    def record_url(self, url: str) -> str:
        """How ``run.json`` keeps a store URL: a file in this folder by its name alone
        (``sqlite://state.db?...``), so the folder can be copied or moved; others as given."""
        parsed = parse_state_url(url, self.root)
        path = parsed.local_file()
        if path is None or path.parent != self.root:
            return url
        options = parsed.full().partition("?")[2]
        return f"{parsed.scheme}://{quote(path.name)}?{options}"
