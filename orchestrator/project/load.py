"""Reading a project file: YAML with line numbers (duplicate keys refused), ``--set``
overrides applied before validation, and every problem reported at once as
``file:line: field.path: what is expected`` (ConfigError)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.project.config import BibleFile, ProjectConfig
from orchestrator.project.overrides import OverrideError, apply_overrides, override_path
from orchestrator.project.problems import (
    ConfigError,
    ConfigProblem,
    LineFinder,
    Loc,
    OverrideFinder,
    format_loc,
    problems_from,
)


class _Loader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate keys (a silent override is a typo's hiding place)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})",
                    key_node.start_mark,
                )
            seen[key_node.value] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ProjectConfig:
    """Read and validate a project file; ConfigError (a ValueError) says what is wrong.

    ``overrides`` are ``path=value`` settings applied before validation (``--set``).
    """
    source = Path(path)
    text = _read(source, "no such file (the example project is config.yaml)")
    return _resolve_paths(parse_config(text, source, overrides), source.parent)


def load_bible(path: str | Path) -> BibleFile:
    """Read and validate a run's ``bible.yaml``; ConfigError names the line and the field,
    as for a project file."""
    source = Path(path)
    data, line_of = parse_yaml(_read(source, "no such file"), source)
    if not isinstance(data, dict):
        expected = "expected a mapping with characters: and world:"
        raise ConfigError(source, [ConfigProblem("", expected, line_of(()))])
    try:
        return BibleFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, problems_from(exc, BibleFile, line_of)) from None


def _read(source: Path, missing: str) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(source, missing) from None
    except IsADirectoryError:
        raise _error(source, "is a directory, expected a YAML file") from None
    except UnicodeDecodeError:
        raise _error(source, "is not UTF-8 text") from None
    except OSError as exc:
        raise _error(source, f"cannot be read: {exc.strerror or exc}") from None


def _resolve_paths(config: ProjectConfig, base: Path) -> ProjectConfig:
    """Paths in the file are relative to it; made absolute, so the run folder's copy works."""
    prices = config.llm.prices
    if prices is None or Path(prices).is_absolute():
        return config
    llm = config.llm.model_copy(update={"prices": str((base / prices).resolve())})
    return config.model_copy(update={"llm": llm})


def parse_config(
    text: str, source: str | Path = "<config>", overrides: Sequence[str] = ()
) -> ProjectConfig:
    """Validate a project file's text; ``source`` names it in errors."""
    data, line_of = parse_yaml(text, source)
    if not isinstance(data, dict):
        got = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        expected = "expected a mapping with project:, characters:, world:, llm:, ..."
        raise ConfigError(source, [ConfigProblem("", f"{expected}; got {got}", line_of(()))])
    file_alone = copy.deepcopy(data) if overrides else data  # to tell whose a problem is
    try:
        apply_overrides(data, overrides)
    except OverrideError as exc:
        raise ConfigError(source, [ConfigProblem("", exc.reason, override=exc.override)]) from None
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        override_of = _override_finder(overrides, file_alone) if overrides else None
        raise ConfigError(source, problems_from(exc, ProjectConfig, line_of, override_of)) from None


def _override_finder(overrides: Sequence[str], file_alone: dict[str, Any]) -> OverrideFinder:
    """The ``--set`` a problem comes from: the last one that set its field (or a field it
    is in); else, for a problem the file alone does not have, the one nearest to it
    (``--set orchestrator.mode=window`` for ``orchestrator.window: required``)."""
    paths = [(tuple(override_path(override)), override) for override in overrides]
    try:
        ProjectConfig.model_validate(file_alone)
        in_file: set[tuple[str, str]] = set()
    except ValidationError as exc:
        in_file = {(p.path, p.message) for p in problems_from(exc, ProjectConfig, _no_line)}

    def override_of(loc: Loc, message: str) -> str | None:
        key = tuple(str(part) for part in loc)
        for path, override in reversed(paths):
            if key[: len(path)] == path:  # at or under what it set
                return override
        if not paths or (format_loc(loc), message) in in_file:
            return None
        nearest = max(reversed(paths), key=lambda item: _shared(item[0], key))
        return nearest[1]

    return override_of


def _shared(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many leading parts two field paths have in common."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def _no_line(_loc: Loc) -> None:
    return None


def parse_yaml(text: str, source: str | Path) -> tuple[Any, LineFinder]:
    """The data of a YAML text, and where each field path is in it (``line_of``); a
    ConfigError naming ``source`` and the line for text that is not YAML or repeats a
    key. Shared by every file an author edits (the project file, ``outline.yaml``)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(source, [_yaml_problem(exc)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [ConfigProblem("", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, _line_finder(node)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    reason = exc.problem or "cannot be parsed"
    if exc.context:
        reason = f"{reason} ({exc.context})"
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    return ConfigProblem("", f"invalid YAML: {reason}", line, column)


def _line_finder(root: yaml.Node | None) -> LineFinder:
    """A function from a field path to the line it is (or would be) on in the file."""

    def line_of(loc: Loc) -> int | None:
        if root is None:
            return None
        node, line = root, root.start_mark.line + 1
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            line, node = found
        return line

    return line_of


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


def _error(source: Path, message: str) -> ConfigError:
    return ConfigError(source, [ConfigProblem("", message)])
