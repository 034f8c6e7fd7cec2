"""The root of the orchestrator's errors, and the exit codes the CLI ends with.

Every error class says how the CLI ends when nothing handles it: ``exit_code``
2 when the user's input is at fault (a project file, a run folder, a manifest,
a publish folder), 1 when a run failed. The state store's and the agents' errors
say the same from their own roots (``state.errors.StateError``,
``agents.errors.AgentError``). ``orchestrator.cli.errors`` turns them into a
message and that code.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class OrchestratorError(Exception):
    """Base class for the orchestrator's errors: a run failure unless a subclass says
    the user's input is at fault."""

    exit_code: ClassVar[int] = EXIT_FAILED
