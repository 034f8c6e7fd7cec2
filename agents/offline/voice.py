"""The offline model's phrase banks (``agents/voice/<lang>.yaml``) and how it speaks them."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from agents import yamltext

VOICE_DIR = Path(__file__).resolve().parent / "voices"


class Voice:
    """Phrases of one language, picked with a seeded RNG and filled with names."""

    def __init__(self, language: str, data: dict[str, Any], source: Path) -> None:
        self.language = language
        self._data = data
        self._source = source
        self.sentence_join: str = self.text("sentence_join")
        self.list_join: str = self.text("list_join")

    def _lookup(self, key: str) -> Any:
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{self._source}: no phrase bank {key!r}")
            node = node[part]
        return node

    def raw(self, key: str) -> Any:
        """The bank ``key`` as the file holds it (a mapping, a list, a phrase)."""
        return self._lookup(key)

    def text(self, key: str) -> str:
        """A single phrase."""
        return str(self._lookup(key))

    def words(self, key: str) -> list[str]:
        """A list of phrases."""
        return [str(item) for item in self._lookup(key)]

    def choose(self, rng: random.Random, key: str) -> str:
        """One phrase of the list ``key``."""
        return rng.choice(self.words(key))

    def fill(self, template: str, **values: object) -> str:
        """A template with its placeholders filled (a phrase: no capital added)."""
        return Template(template).safe_substitute({k: str(v) for k, v in values.items()})

    def say(self, rng: random.Random, key: str, **values: object) -> str:
        """One template of ``key`` (a list or a single one), filled, as a sentence."""
        bank = self._lookup(key)
        template = rng.choice(bank) if isinstance(bank, list) else str(bank)
        return self.sentence(self.fill(template, **values))

    def sentence(self, text: str) -> str:
        """English sentences start with a capital, even after an opening quote."""
        if self.language != "en":
            return text
        for index, char in enumerate(text):
            if char.isalpha():
                return text[:index] + char.upper() + text[index + 1 :]
        return text

    def join(self, sentences: list[str]) -> str:
        """Sentences as one paragraph."""
        return self.sentence_join.join(sentences)


@cache
def load_voice(language: str) -> Voice:
    """The voice of ``language`` (English when there is no bank for it)."""
    path = VOICE_DIR / f"{language}.yaml"
    if not path.exists():
        path = VOICE_DIR / "en.yaml"
        language = "en"
    data = yamltext.safe_load(path.read_text(encoding="utf-8"))
    return Voice(language, data, path)
