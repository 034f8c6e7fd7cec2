"""The outline now: what ``sync`` compares the kept attempts' outline with.

Until the author can edit ``outline.yaml`` through ``plan``/``write`` (with its
line-numbered validation), this reads that file when it is there, else the
outline the store keeps. One function, so the validated reader replaces it.
"""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from agents.schemas import Outline
from orchestrator.artifacts.folder import RunFolder, RunFolderError

OUTLINE_YAML = "outline.yaml"


def current_outline(folder: RunFolder, stored: Outline) -> Outline:
    """``outline.yaml`` in the run folder if the author keeps one there, else ``stored``."""
    path = folder.path(OUTLINE_YAML)
    if not path.exists():
        return stored
    try:
        return Outline.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise RunFolderError(f"{path}: not a valid outline: {exc}") from None
