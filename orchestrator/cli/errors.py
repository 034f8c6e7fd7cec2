"""How the CLI turns the errors a user can meet into a message and an exit code.

The code is the error class's ``exit_code`` (2: the user's input is at fault;
1: the run failed); see ``orchestrator.errors``. The store's and the agents' errors
are imported when first needed: importing ``state.errors`` imports the whole store
(its backends, redis, pydantic), which a command such as ``config check`` never uses.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from orchestrator.errors import EXIT_FAILED, OrchestratorError

if TYPE_CHECKING:
    from agents.errors import AgentError
    from state.errors import StateError

P = ParamSpec("P")
R = TypeVar("R")


def roots() -> tuple[type[OrchestratorError], type[StateError], type[AgentError]]:
    """The root of each package's errors; each class carries its exit code."""
    from agents.errors import AgentError
    from state.errors import StateError

    return (OrchestratorError, StateError, AgentError)


def reported() -> tuple[type[Exception], ...]:
    """What the CLI reports as one line: the roots, and OSError (a full disk or a folder
    that cannot be written, with the path in the message)."""
    return (*roots(), OSError)


def exit_code(exc: BaseException) -> int:
    """The code the CLI ends with for ``exc``: its class's, else a run failure."""
    return exc.exit_code if isinstance(exc, roots()) else EXIT_FAILED


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or an exhausted quota."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(seen) or "No space left" in str(seen):
            return True
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return False


def resumable_stop(exc: BaseException, run_dir: Path) -> str | None:
    """The message for a run stopped by something outside it that a resume gets past
    (a full disk, a state server gone away); None for any other failure."""
    from state.errors import StoreUnreachableError

    resume = f"orchestrator resume {run_dir}"
    if is_disk_full(exc):
        return (
            f"error: the disk is full ({exc}); the run stopped and everything committed "
            f"is kept. Free some space, then: {resume}"
        )
    if isinstance(exc, StoreUnreachableError):
        server = "Redis server" if exc.location.startswith(("redis", "rediss")) else "server"
        return (
            f"error: lost the {server} of the state store {exc.location} ({exc.reason}; "
            f"{exc.tries} tries over {exc.waited_s:.1f}s); the run stopped and every chapter "
            f"committed before is kept. Start the server again, then: {resume}"
        )
    return None


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Report a user's mistake or a failed run as one clear line and an exit code, never
    a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not isinstance(exc, reported()):
                raise
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(exit_code(exc)) from None

    return wrapper
