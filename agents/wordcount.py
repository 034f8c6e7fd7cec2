"""Word counts as writers count them: words in English, characters in Chinese."""

from __future__ import annotations

from agents.text import CJK_CHAR, LATIN_WORD, NO_WORD_TOKEN


def count_words(text: str, language: str) -> int:
    """The length of ``text`` in the unit its language counts.

    English counts whitespace-separated words that hold a letter or a digit
    (a lone dash or ``#`` is not a word). Chinese counts each Han character
    and each run of Latin letters or digits as one; punctuation and spaces
    count for nothing, as in Chinese word-processor counts.
    """
    if language == "zh":
        cjk = len(CJK_CHAR.findall(text))
        rest = CJK_CHAR.sub(" ", text)
        return cjk + len(LATIN_WORD.findall(rest))
    return len(text.split()) - len(NO_WORD_TOKEN.findall(text))
