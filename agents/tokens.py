"""Token estimates without a tokenizer: good enough to keep prompts within a budget.

English runs about four characters to a token with Claude-family tokenizers;
a Han character is about one token. Estimates round up, so the estimate of a
concatenation never exceeds the sum of the parts' estimates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from agents.text import CJK_CHAR

CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """An upper-leaning estimate of how many tokens ``text`` costs."""
    if not text:
        return 0
    cjk = len(CJK_CHAR.findall(text))
    return cjk + math.ceil((len(text) - cjk) / CHARS_PER_TOKEN)


def truncate_to_tokens(text: str, max_tokens: int, marker: str = " \u2026") -> str:
    """``text`` cut (with ``marker``) so that its estimate is at most ``max_tokens``."""
    if estimate_tokens(text) <= max_tokens:
        return text
    kept = _longest(text, max_tokens - estimate_tokens(marker), lambda n: text[:n])
    return kept.rstrip() + marker if kept or max_tokens > estimate_tokens(marker) else ""


def tail_to_tokens(text: str, max_tokens: int, marker: str = "\u2026 ") -> str:
    """The end of ``text`` (after ``marker``) whose estimate is at most ``max_tokens``."""
    if estimate_tokens(text) <= max_tokens:
        return text
    kept = _longest(text, max_tokens - estimate_tokens(marker), lambda n: text[len(text) - n :])
    return marker + kept.lstrip() if kept or max_tokens > estimate_tokens(marker) else ""


def _longest(text: str, room: int, part: Callable[[int], str]) -> str:
    """The longest ``part(n)`` (a prefix or a suffix of ``n`` characters) within ``room``
    tokens: estimates grow with ``n``, so bisect."""
    if room <= 0:
        return ""
    low, high = 0, min(len(text), room * int(CHARS_PER_TOKEN))
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(part(middle)) <= room:
            low = middle
        else:
            high = middle - 1
    return part(low)
