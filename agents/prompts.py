"""Prompt templates from ``prompts/<name>.<lang>.md``: no prompt text lives in Python.

Templates use ``string.Template`` syntax (``$name`` or ``${name}``; ``$$`` for
a dollar sign). A template that names a value the caller did not give is an
error naming the file and the value, never a silently blank prompt.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from string import Template

from agents.errors import PromptError

PROMPTS_ENV = "NOVEL_PROMPTS_DIR"


def default_prompts_dir() -> Path:
    """``$NOVEL_PROMPTS_DIR`` if set, else the templates shipped with the package
    (``prompts/`` in the source tree, installed as ``agents.templates``)."""
    configured = os.environ.get(PROMPTS_ENV)
    if configured:
        return Path(configured)
    return Path(str(resources.files("agents.templates")))


class PromptLibrary:
    """Loads (once) and renders the templates of one prompts folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_prompts_dir()
        self._cache: dict[Path, Template] = {}

    def path(self, name: str, language: str) -> Path:
        """Where the template ``name`` for ``language`` lives."""
        return self.root / f"{name}.{language}.md"

    def template(self, name: str, language: str) -> Template:
        """The template ``name`` in ``language``; PromptError if it does not exist."""
        path = self.path(name, language)
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PromptError(path, "no such template") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptError(path, f"cannot be read: {exc}") from None
        template = Template(text.rstrip("\n"))
        self._cache[path] = template
        return template

    def render(self, name: str, language: str, /, **values: object) -> str:
        """The template filled with ``values``; PromptError naming any missing value."""
        template = self.template(name, language)
        try:
            return template.substitute({key: str(value) for key, value in values.items()})
        except KeyError as exc:
            raise PromptError(
                self.path(name, language), f"needs a value for ${exc.args[0]}"
            ) from None
        except ValueError as exc:
            raise PromptError(self.path(name, language), f"bad placeholder: {exc}") from None
