"""Whether the running event loop has other work than the current task.

A process with a single writer (one task on its loop) gains nothing from
keeping the loop free while that writer waits: nobody else would use it.
The cross-process lock then waits on the loop's own thread, and a group
commit does not yield to let other writers join.
"""

from __future__ import annotations

import asyncio


def alone_on_loop() -> bool:
    """True if the current task is the only unfinished task of the running loop.

    Callbacks that belong to no task (a protocol-based server, a bare
    ``call_later``) are not seen; the project runs none.
    """
    return len(asyncio.all_tasks()) <= 1
