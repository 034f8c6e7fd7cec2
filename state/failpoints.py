"""Named failpoints for the chaos tests.

``ORCHESTRATOR_FAILPOINT=name`` (or ``name@N`` for the N-th time the point is
reached in this process) makes the process SIGKILL itself at that point, so a
test can prove that a crash right there loses nothing acknowledged and tears
nothing. Unset, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "ORCHESTRATOR_FAILPOINT"
_hits: dict[str, int] = {}


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get(_ENV)
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth else 1


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if the failpoint ``name`` is armed."""
    armed = _armed()
    if armed is None or armed[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
