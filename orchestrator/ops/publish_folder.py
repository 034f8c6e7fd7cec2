"""The publish folder: which manuscript version is published, and how it came to be.

::

    runs/published/
      CURRENT.json      the version published now (absent when none is)
      HISTORY.jsonl     every publish and rollback, oldest first, one JSON object a line
      publish.lock      held while a publish or rollback runs
      v0003/            the published files of version 3 (manuscript, e-book, manifest)

HISTORY is the record; CURRENT is what replaying it gives, written after it.
Both are replaced atomically, so a crash leaves either the old or the new
record, and a CURRENT behind HISTORY is rewritten by the next command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError
from state.atomic import replace_file
from state.errors import LockTimeoutError

CURRENT_FILE = "CURRENT.json"
HISTORY_FILE = "HISTORY.jsonl"
LOCK_FILE = "publish.lock"
# A publish copies one book and rewrites two small files: seconds. Waiting longer than
# this means the other publisher is stuck (stopped, or on a hung disk), not busy.
LOCK_TIMEOUT_S = 300.0


class PublishError(OrchestratorError):
    """Publishing or rolling back cannot go ahead (the message says why)."""

    exit_code = EXIT_BAD_INPUT


def version_dir_name(version: int) -> str:
    return f"v{version:04d}"


class PublishFolder:
    """Reads and writes one publish folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    @contextmanager
    def locked(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the folder for one publish or rollback (other publishers wait).

        Waits are rare and short, so ``filelock``'s polling wait is fine here;
        past ``timeout_s`` it is a LockTimeoutError naming the lock and the wait.
        """
        path = self.root / LOCK_FILE
        lock = FileLock(
            path,
            mode=0o644,
            thread_local=False,
            fallback_to_soft=False,  # a lock file that outlives its killed holder is no lock
            preserve_lock_file=True,  # deleting it would let two publishers lock two files
        )
        started = time.monotonic()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=timeout_s)
        except Timeout:
            raise LockTimeoutError(str(path), time.monotonic() - started) from None
        except OSError as exc:
            raise PublishError(
                f"cannot use the publish folder {self.root}: {exc.strerror}"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def history(self) -> list[dict[str, Any]]:
        """Every event, oldest first."""
        path = self.root / HISTORY_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                event = json.loads(line)
            except ValueError as exc:
                raise PublishError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(event, dict) or event.get("event") not in ("publish", "rollback"):
                raise PublishError(f"{path}, line {number}: not a publish or rollback event")
            events.append(event)
        return events

    def current(self) -> dict[str, Any] | None:
        """The published version, from the history (CURRENT.json mirrors it)."""
        stack = active_versions(self.history())
        return stack[-1] if stack else None

    def append(self, event: dict[str, Any]) -> None:
        """Add an event to HISTORY, then rewrite CURRENT to match."""
        events = [*self.history(), event]
        lines = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events)
        replace_file(self.root / HISTORY_FILE, lines.encode("utf-8"))
        self.sync_current(events)

    def sync_current(self, events: list[dict[str, Any]] | None = None) -> None:
        stack = active_versions(self.history() if events is None else events)
        path = self.root / CURRENT_FILE
        if not stack:
            path.unlink(missing_ok=True)
            return
        text = json.dumps(stack[-1], indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        replace_file(path, text.encode("utf-8"))

    def next_version(self) -> int:
        return 1 + max((e["version"] for e in self.history() if e["event"] == "publish"), default=0)


def active_versions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replay the history: a publish puts its version on top, a rollback takes the top off."""
    stack: list[dict[str, Any]] = []
    for event in events:
        if event["event"] == "publish":
            stack.append(event)
        elif stack:
            stack.pop()
    return stack
