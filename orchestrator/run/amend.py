"""``resume --set PATH=VALUE``: change the config a stopped run goes on with, on the record.

The overrides are applied to the run's own copy of its project file
(``config.yaml`` in the run folder) and validated as ``run --set`` validates
them, so a bad path or value is refused with the same message and nothing is
changed. What a started run already rests on cannot change (``FIXED``: the
story's plan and starting state, the book's language, the store); everything
else can, such as ``llm.budget_usd`` for a run its budget stopped.

A change is written in three steps, each atomic: the new ``config.yaml``, its
entry in ``MANIFEST.json`` (when the run has one, so ``verify`` still passes),
and an entry in ``run.json``'s ``config_changes`` saying what changed and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from orchestrator.artifacts.folder import RUN_FILE, RunFolder
from orchestrator.artifacts.manifest import refresh_entry
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import load_config
from orchestrator.project.overrides import override_path
from orchestrator.project.problems import ConfigError, ConfigProblem
from state.models import utc_iso

CONFIG_FILE = "config.yaml"
_STORY = "the outline, the story state and the chapters written were made from it"
# Field path -> why it cannot change under a run that has started. A path covers every
# field under it, except those in MAY_CHANGE.
FIXED: dict[tuple[str, ...], str] = {
    ("project",): _STORY,
    ("characters",): _STORY,
    ("world",): _STORY,
    ("state", "url"): (
        "the run's store is the one run.json names; move it with `orchestrator state migrate`"
    ),
    ("state", "durability"): (
        "it is part of the store's URL run.json records; "
        "switch it with `orchestrator state migrate`"
    ),
}
MAY_CHANGE: frozenset[tuple[str, ...]] = frozenset({("project", "target_words")})


@dataclass(frozen=True, slots=True)
class Change:
    """One field whose value the overrides change."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "from": self.old, "to": self.new}


@dataclass(frozen=True, slots=True)
class Amendment:
    """What ``resume --set`` would change: the new config and the fields that differ."""

    overrides: tuple[str, ...]
    config: ProjectConfig
    changes: tuple[Change, ...]


def plan_amendment(folder: RunFolder, overrides: Sequence[str]) -> Amendment:
    """The run's config with ``overrides`` applied, checked; nothing is written.

    A bad override raises ``ConfigError`` as ``run --set`` does, and so does one that
    changes a fixed field (the field and why); an override to the value a field already
    has is no change.
    """
    path = folder.path(CONFIG_FILE)
    before = load_config(path)
    after = load_config(path, overrides)
    changes = _changes(_dump(before), _dump(after))
    refused = [
        ConfigProblem(
            change.field,
            f"cannot change once a run has started: {why}",
            override=_override_of(change.field, overrides),
        )
        for change in changes
        if (why := fixed_reason(change.field)) is not None
    ]
    if refused:
        raise ConfigError(path, refused)
    return Amendment(tuple(overrides), after, tuple(changes))


def fixed_reason(field: str) -> str | None:
    """Why ``field`` (a dotted path) cannot change under a started run; None if it can."""
    parts = tuple(field.split("."))
    if any(parts[: len(allowed)] == allowed for allowed in MAY_CHANGE):
        return None
    for fixed, why in FIXED.items():
        if parts[: len(fixed)] == fixed:
            return why
    return None


def record_amendment(folder: RunFolder, amendment: Amendment) -> None:
    """Write the new config, keep the manifest true to it, and note the change in
    ``run.json`` (the caller holds the run's lock)."""
    if not amendment.changes:
        return
    used = amendment.config.model_dump(mode="json", exclude_none=True)
    folder.write_text(CONFIG_FILE, yaml.safe_dump(used, allow_unicode=True, sort_keys=False))
    refresh_entry(folder, CONFIG_FILE)
    meta = folder.run_meta()
    entry = {
        "at": utc_iso(),
        "set": list(amendment.overrides),
        "changed": [change.to_dict() for change in amendment.changes],
    }
    meta["config_changes"] = [*meta.get("config_changes", []), entry]
    folder.write_json(RUN_FILE, meta)


def _dump(config: ProjectConfig) -> dict[tuple[str, ...], Any]:
    return _flatten(config.model_dump(mode="json"))


def _flatten(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Field path -> value, through mappings (a list is one value)."""
    if not isinstance(data, dict) or not data:
        return {prefix: data}
    flat: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        flat.update(_flatten(value, (*prefix, str(key))))
    return flat


def _changes(before: dict[tuple[str, ...], Any], after: dict[tuple[str, ...], Any]) -> list[Change]:
    paths = sorted(before.keys() | after.keys())
    return [
        Change(".".join(path), before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


def _override_of(field: str, overrides: Sequence[str]) -> str:
    """The last ``--set`` whose path is the field or holds it (else the field itself)."""
    parts = field.split(".")
    for override in reversed(overrides):
        path = override_path(override)
        if parts[: len(path)] == path or path[: len(parts)] == parts:
            return override
    return field
