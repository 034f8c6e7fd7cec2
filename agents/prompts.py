"""Prompt templates from ``prompts/<name>.<lang>.md``, and the labels the author reads
(``prompts/labels.<lang>.yaml``): no prompt or label text lives in Python.

Templates use ``string.Template`` syntax (``$name`` or ``${name}``; ``$$`` for
a dollar sign). A template that names a value the caller did not give is an
error naming the file and the value, never a silently blank prompt.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from agents import yamltext
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
        self._labels: dict[str, Labels] = {}

    def labels(self, language: str) -> Labels:
        """The labels of ``language`` (read once); PromptError if its file is missing or bad."""
        found = self._labels.get(language)
        if found is None:
            found = self._labels[language] = Labels.read(self.root / f"labels.{language}.yaml")
        return found

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


class Labels:
    """What the author reads outside the book, in the book's language: counts, field names,
    terminal lines, summary and outline labels (``prompts/labels.<lang>.yaml``)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def read(cls, path: Path) -> Labels:
        try:
            data = yamltext.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PromptError(path, "no such label file") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise PromptError(path, f"cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise PromptError(path, "expected a mapping of labels")
        return cls(path, data)

    def __call__(self, key: str, /, **values: object) -> str:
        """The label at ``key`` (dotted: ``events.written``) filled with ``values``."""
        text = self._get(key)
        try:
            return Template(str(text)).substitute({k: str(v) for k, v in values.items()})
        except KeyError as exc:
            raise PromptError(self.path, f"{key} needs a value for ${exc.args[0]}") from None
        except ValueError as exc:
            raise PromptError(self.path, f"{key}: bad placeholder: {exc}") from None

    def name(self, group: str, key: str) -> str:
        """A name from a group (``fields``, ``status.states``, ...); the key itself if absent."""
        node: object = self.data
        for part in group.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return str(node.get(key, key)) if isinstance(node, dict) else key

    def count(self, n: int) -> str:
        """A length as the book counts it: words, or characters (字) for Chinese."""
        return self("count", n=f"{n:,}")

    def join(self, items: list[str]) -> str:
        """Items as a list in running text (``, `` or ``、``); ``none`` when there are none."""
        return str(self.data["list"]).join(items) if items else self("none")

    def value(self, field: str, value: object) -> str:
        """A state value as the author reads it (lists joined, alive/dead named)."""
        if field == "alive" and isinstance(value, bool):
            return self.name("alive", str(value).lower())
        if isinstance(value, list):
            return self.join([str(v) for v in value])
        return str(value)

    def _get(self, key: str) -> object:
        node: object = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise PromptError(self.path, f"has no label {key!r}")
            node = node[part]
        return node
