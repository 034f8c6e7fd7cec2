"""``user_errors``: one ``error: ...`` line and the error class's exit code, never a traceback."""

from __future__ import annotations

import errno

import pytest

from agents.errors import AgentFailedError
from orchestrator.artifacts.folder import RunFolderError
from orchestrator.cli.errors import user_errors
from orchestrator.errors import EXIT_BAD_INPUT, EXIT_FAILED
from orchestrator.ops.publish import GateFailedError
from orchestrator.project.problems import ConfigError
from state.errors import LockTimeoutError, StateError, StateURLError, StoreMigratedError


def fails_with(exc: BaseException) -> None:
    @user_errors
    def command() -> None:
        raise exc

    command()


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("p.yaml", []), EXIT_BAD_INPUT),
        (RunFolderError("runs/x belongs to another run"), EXIT_BAD_INPUT),
        (StateURLError("sqlit:///x", "no such backend"), EXIT_BAD_INPUT),
        # a PermissionError too: its class's code wins over the OSError rule
        (StoreMigratedError("sqlite:///a.db", "redis://h/0"), EXIT_BAD_INPUT),
        (LockTimeoutError("state.lock", 2.0), EXIT_FAILED),
        (StateError("something in the store"), EXIT_FAILED),
        (AgentFailedError("writer", 3, ["too short"]), EXIT_FAILED),
        (GateFailedError([]), EXIT_FAILED),
        (OSError(errno.ENOSPC, "No space left on device", "runs/x"), EXIT_FAILED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_an_error_is_one_line_and_its_class_code(
    exc: BaseException, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        fails_with(exc)
    assert stopped.value.code == code
    err = capsys.readouterr().err
    assert err == f"error: {exc}\n"


@pytest.mark.parametrize("exc", [KeyError("x"), ValueError("a bug"), KeyboardInterrupt()])
def test_anything_else_is_not_swallowed(exc: BaseException) -> None:
    with pytest.raises(type(exc)):
        fails_with(exc)
