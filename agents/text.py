"""Text shared by the agents and the book: scripts (word counts, tokens) and paragraphs."""

from __future__ import annotations

import re

# Han ideographs (CJK unified, extension A, compatibility, extensions B+),
# kana and hangul: scripts written without spaces, one unit per character.
CJK_CHAR = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
# A run of letters or digits, with inner apostrophes or hyphens ("don't", "well-lit").
LATIN_WORD = re.compile("[^\\W_]+(?:['\u2019\\-][^\\W_]+)*")
# A whitespace-separated token without a single letter or digit ("—", "#", "...").
NO_WORD_TOKEN = re.compile(r"(?<!\S)(?:[^\s\w]|_)+(?!\S)")

# CJK characters and full-width punctuation: a space between two of them is a folded line.
_CJK_OR_PUNCT = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_FOLDED_CJK = re.compile(f"(?<=[{_CJK_OR_PUNCT}])[ \\t\\n]+(?=[{_CJK_OR_PUNCT}])")

# A blank line, possibly holding spaces or tabs: what separates paragraphs.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def paragraphs(text: str) -> list[str]:
    """The prose split at blank lines, each paragraph trimmed, empty ones dropped."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [part.strip() for part in _PARAGRAPH_BREAK.split(normalized) if part.strip()]


def prose(text: str) -> str:
    """The text as its paragraphs joined by one blank line: how a chapter is kept."""
    return "\n\n".join(paragraphs(text))


def join_cjk_lines(text: str) -> str:
    """Lines joined as Chinese (or Japanese) text joins them: no space between two CJK
    characters, where YAML's folded style (``>``) or a line break put one."""
    return _FOLDED_CJK.sub("", text)
