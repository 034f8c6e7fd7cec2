"""ConfigError, and how YAML and pydantic errors become lines a user can act on.

Every problem is reported as ``<file>:<line>: <field path>: <what is expected>``,
for example ``config.yaml:23: characters[2].initial.location: expected a
string, got 42``; one a ``--set`` caused names it instead of a line of the file
(``--set llm.seed=x: llm.seed: expected a whole number, got 'x'``). All problems
are listed, not only the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError

Loc = tuple[str | int, ...]
# Finds the line of a field path in the source file (None when unknown).
LineFinder = Callable[[Loc], int | None]
# Finds the ``--set`` argument a problem (its field path, its message) comes from (None
# when it is the file's).
OverrideFinder = Callable[[Loc, str], str | None]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a project file: where, and what is expected."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    override: str | None = None  # the ``--set path=value`` that caused it, if one did

    def render(self, source: Path | str) -> str:
        """``file:line[:col]: path: message``, or ``--set path=value: path: message``."""
        where = str(source) if self.override is None else f"--set {self.override}"
        if self.line is not None and self.override is None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(OrchestratorError, ValueError):
    """A project file that cannot be used; the message lists every problem, one per line."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, source: Path | str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [problem.render(source) for problem in self.problems]
        if len(lines) > 1:
            lines.insert(0, f"{source}: {len(lines)} problems in the project file")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments: the default would pass the message alone
        return type(self), (self.source, self.problems), self.__dict__


class CrossFieldErrors(OrchestratorError, ValueError):
    """Raised inside validation for problems that span fields, each with its own path
    (a ``ConfigError`` reports them)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{format_loc(loc)}: {message}" for loc, message in problems))

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments: the default would pass the message alone
        return type(self), (self.problems,), self.__dict__


def format_loc(loc: Loc) -> str:
    """``("characters", 2, "initial", "location")`` -> ``characters[2].initial.location``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def problems_from(
    exc: ValidationError,
    root: type[BaseModel],
    line_of: LineFinder,
    override_of: OverrideFinder | None = None,
    fmt: Callable[[Loc], str] = format_loc,
) -> list[ConfigProblem]:
    """Every error of a validation of ``root``, with its field path (as ``fmt`` writes it)
    and its line, or the ``--set`` that caused it (``override_of``)."""
    problems = [
        _problem(loc, message, line_of, override_of, fmt)
        for error in exc.errors(include_url=False)
        for loc, message in _messages(error, root)
    ]
    return sorted(problems, key=lambda problem: problem.line or 0)


def _problem(
    loc: Loc,
    message: str,
    line_of: LineFinder,
    override_of: OverrideFinder | None,
    fmt: Callable[[Loc], str],
) -> ConfigProblem:
    override = override_of(loc, message) if override_of is not None else None
    if override is not None:
        return ConfigProblem(fmt(loc), message, override=override)
    return ConfigProblem(fmt(loc), message, line_of(loc))


def _messages(error: ErrorDetails, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    loc: Loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, CrossFieldErrors):
        return [(loc + sub, message) for sub, message in cause.problems]
    if error["type"] == "extra_forbidden":
        return [(loc, _unknown_key(loc, root))]
    return [(loc, _expected(error))]


_EXPECTED = {
    "missing": "required field is missing",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value pairs)",
    "model_type": "expected a mapping (key: value pairs)",
    "model_attributes_type": "expected a mapping (key: value pairs)",
}


def _expected(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "literal_error":
        message = f"expected one of {(error.get('ctx') or {}).get('expected', '')}"
    elif kind in _EXPECTED:
        message = _EXPECTED[kind]
    else:
        message = error["msg"].removeprefix("Value error, ").removeprefix("Input ")
        message = message[:1].lower() + message[1:]
    if kind == "missing":
        return message
    return f"{message}, got {_shown(error['input'])}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(loc: Loc, root: type[BaseModel]) -> str:
    key = str(loc[-1])
    model = model_at(root, loc[:-1])
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (allowed: {', '.join(allowed)})"


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class found at ``loc`` inside ``root`` (None if not a model)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if _is_model(current) and isinstance(part, str):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        else:  # an index into a list, or a key into a dict: the item type
            args = get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    return current if _is_model(current) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (the model member of a union, if it has one)."""
    if get_origin(annotation) not in (Union, UnionType):
        return annotation
    members = [a for a in get_args(annotation) if a is not type(None)]
    models = [m for m in members if _is_model(m)]
    return (models or members or [annotation])[0]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)
