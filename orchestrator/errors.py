"""How the CLI turns errors a user can cause into a message and an exit code."""

from __future__ import annotations

import errno
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from agents.errors import AgentError
from orchestrator.artifacts.folder import RunFolderError
from orchestrator.artifacts.manifest import ManifestError
from orchestrator.bench.runs import BenchRunError
from orchestrator.ops.publish_folder import PublishError
from orchestrator.project.problems import ConfigError
from state.errors import (
    CorruptStateError,
    LockTimeoutError,
    MigrationError,
    SchemaVersionError,
    StateError,
    StateOpenError,
    StateURLError,
    StateWriteError,
    StoreMigratedError,
    StoreUnreachableError,
)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

P = ParamSpec("P")
R = TypeVar("R")

# Errors caused by what the user gave us (exit 2); other state errors are run failures (exit 1).
BAD_INPUT: tuple[type[BaseException], ...] = (
    ConfigError,
    StateURLError,
    StateOpenError,
    CorruptStateError,
    SchemaVersionError,
    RunFolderError,
    ManifestError,
    PublishError,
    MigrationError,
    StoreMigratedError,
)
# OSError last: a full disk or a folder that cannot be written, with the path in the message.
RUN_FAILURES: tuple[type[BaseException], ...] = (
    StateWriteError,
    LockTimeoutError,
    StateError,
    AgentError,
    BenchRunError,
    OSError,
)


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
    """Report a user's mistake as one clear line and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BAD_INPUT as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(EXIT_BAD_INPUT) from None
        except RUN_FAILURES as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(EXIT_FAILED) from None

    return wrapper
