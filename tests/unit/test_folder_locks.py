"""The locks of a run folder (run.lock) and of the publish folder, over filelock."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.artifacts.folder import LOCK_FILE as RUN_LOCK
from orchestrator.artifacts.folder import RunFolder, RunFolderError
from orchestrator.ops.publish_folder import LOCK_FILE as PUBLISH_LOCK
from orchestrator.ops.publish_folder import PublishFolder
from state.errors import LockTimeoutError


def test_a_held_run_is_refused_with_its_holder(tmp_path: Path) -> None:
    first, second = RunFolder(tmp_path), RunFolder(tmp_path)
    first.lock()
    with pytest.raises(RunFolderError, match=f"is being written by pid {os.getpid()} on "):
        second.lock()
    first.unlock()
    second.lock()  # free again once let go
    second.unlock()
    assert (tmp_path / RUN_LOCK).exists()  # kept: deleting it could split two holders


HOLD = """
import sys, time
from pathlib import Path
from orchestrator.artifacts.folder import RunFolder
folder = RunFolder(Path(sys.argv[1]))
folder.lock()  # held while the folder object lives
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_holder_leaves_the_run_free(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderError, match=f"is being written by pid {child.pid} on "):
            RunFolder(tmp_path).lock()
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    folder = RunFolder(tmp_path)
    folder.lock()  # the kernel dropped the dead holder's lock
    folder.unlock()


def test_a_publisher_waits_for_the_one_before(tmp_path: Path) -> None:
    folder = PublishFolder(tmp_path / "published")
    order: list[str] = []
    with folder.locked():
        waiter = threading.Thread(target=_publish, args=(folder, order))
        waiter.start()
        time.sleep(0.2)
        order.append("first done")
    waiter.join(10)
    assert order == ["first done", "second"]
    assert (folder.root / PUBLISH_LOCK).exists()


def _publish(folder: PublishFolder, order: list[str]) -> None:
    with PublishFolder(folder.root).locked(timeout_s=10):
        order.append("second")


def test_a_publish_lock_wait_times_out_with_the_path_and_the_wait(tmp_path: Path) -> None:
    folder = PublishFolder(tmp_path / "published")
    with folder.locked():
        started = time.monotonic()
        with (
            pytest.raises(LockTimeoutError) as info,
            PublishFolder(folder.root).locked(timeout_s=0.2),
        ):
            pass
    assert info.value.path == str(folder.root / PUBLISH_LOCK)
    assert info.value.waited_s >= 0.2
    assert time.monotonic() - started < 5
    with folder.locked(timeout_s=0):  # nothing was kept by the wait that gave up
        pass
