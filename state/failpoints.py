"""Named failpoints for the chaos tests.

``ORCHESTRATOR_FAILPOINT=name`` (or ``name@N`` for the N-th time the point is
reached in this process) makes the process SIGKILL itself at that point, so a
test can prove that a crash right there loses nothing acknowledged and tears
nothing. ``name@N:enospc`` (or ``:eio``) raises that I/O error there instead,
from the N-th time on, as a full disk or a failing device would, so a test can
prove the run stops cleanly and resumes once the fault is gone. Unset, a
failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal

_ENV = "ORCHESTRATOR_FAILPOINT"
_ERRORS = {"enospc": errno.ENOSPC, "eio": errno.EIO}
_hits: dict[str, int] = {}


def _armed() -> tuple[str, int, str] | None:
    spec = os.environ.get(_ENV)
    if not spec:
        return None
    spec, _, action = spec.partition(":")
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth else 1, action or "kill"


def failpoint(name: str) -> None:
    """Kill this process (or raise the armed I/O error) if the failpoint ``name`` is armed."""
    armed = _armed()
    if armed is None or armed[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] < armed[1]:
        return
    if armed[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    code = _ERRORS[armed[2]]
    raise OSError(code, os.strerror(code))
