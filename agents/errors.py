"""Every error the agents raise, in one place.

Each subclasses the matching built-in and carries what a caller needs to
report it: which agent, which file, what the model said. Each is a run failure
for the CLI (``exit_code`` 1, see ``orchestrator.errors``).

A class that takes arguments of its own rebuilds from them when unpickled
(``__reduce__``): the default would call it with the finished message alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class AgentError(Exception):
    """Base class for agent errors."""

    exit_code: ClassVar[int] = 1


class PromptError(AgentError, LookupError):
    """A prompt template is missing, or a template names a value nobody gave."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"prompt {path}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.reason), self.__dict__


class OutputValidationError(AgentError, ValueError):
    """A model's reply that does not validate against the requested output model."""

    def __init__(self, agent: str, raw: str, problems: list[str]) -> None:
        self.agent = agent
        self.raw = raw
        self.problems = problems
        super().__init__(f"{agent}: the reply did not validate: {'; '.join(problems)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.raw, self.problems), self.__dict__


class AgentFailedError(AgentError, RuntimeError):
    """An agent gave up: every attempt's reply was invalid."""

    def __init__(self, agent: str, attempts: int, problems: list[str]) -> None:
        self.agent = agent
        self.attempts = attempts
        self.problems = problems
        detail = "; ".join(problems[:5])
        super().__init__(f"{agent}: no valid reply after {attempts} attempts: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.attempts, self.problems), self.__dict__


class OfflineBriefError(AgentError, TypeError):
    """The offline model was asked something it has no brief for."""

    def __init__(self, agent: str, brief: str, output: str) -> None:
        self.agent = agent
        self.brief = brief
        self.output = output
        super().__init__(
            f"{agent}: the offline model answers planner, writer and editor briefs "
            f"(ProjectBrief, WritingBrief, ReviewBrief); got brief {brief} asking for {output}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.brief, self.output), self.__dict__


class PriceTableError(AgentError, ValueError):
    """The price table cannot be read, or has no price for a model in use."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"price table {source}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.source, self.reason), self.__dict__


class ModelCallError(AgentError, RuntimeError):
    """A model call failed for good: an error the API gave that is not retried, or
    retries used up. The message is the API's own (never a request header or key)."""

    def __init__(self, agent: str, reason: str, attempts: int = 1) -> None:
        self.agent = agent
        self.reason = reason
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{agent}: the model call failed{tries}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.agent, self.reason, self.attempts), self.__dict__
