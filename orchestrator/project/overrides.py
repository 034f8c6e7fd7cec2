"""``--set path=value``: change one field of the project file for one run.

The value is read as YAML (``--set llm.latency_ms=500``, ``--set
orchestrator.mode=sequential``, ``--set world='[a, b]'``), and the result is
validated like the file itself, so a bad override gets the same clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError


class OverrideError(OrchestratorError, ValueError):
    """An override that is not ``path=value`` or whose path cannot be followed (a
    ``ConfigError`` reports it)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, override: str, reason: str) -> None:
        self.override = override
        self.reason = reason
        super().__init__(f"--set {override}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments: the default would pass the message alone
        return type(self), (self.override, self.reason), self.__dict__


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``data`` with each ``path=value`` applied in order (``data`` itself is changed)."""
    for override in overrides:
        path, value = _split(override)
        _assign(data, path, value, override)
    return data


def override_path(override: str) -> list[str]:
    """The field path ``path=value`` sets, as its parts: ``["llm", "seed"]``."""
    path, sep, _ = override.partition("=")
    parts = path.strip().split(".")
    if not sep or not all(parts):
        raise OverrideError(override, "expected path=value, e.g. llm.latency_ms=500")
    return parts


def _split(override: str) -> tuple[list[str], Any]:
    parts = override_path(override)
    raw = override.partition("=")[2]
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.MarkedYAMLError as exc:
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise OverrideError(override, f"the value is not valid YAML: {reason}") from None
    except yaml.YAMLError:
        raise OverrideError(override, "the value is not valid YAML") from None
    return parts, value


def _assign(data: dict[str, Any], path: list[str], value: Any, override: str) -> None:
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_index(node, part, where, override)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise OverrideError(override, f"{where} is not a mapping or a list")
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, ".".join(path), override)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise OverrideError(override, f"{'.'.join(path[:-1])} is not a mapping or a list")


def _index(items: list[Any], part: str, where: str, override: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise OverrideError(override, f"{where}: expected a list index below {len(items)}")
    return int(part)
