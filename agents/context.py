"""What a writer is given, within a token budget, whatever the chapter number.

Long books must not hit a context wall. A writer gets the story bible, the
state as of its chapter, the last few chapter summaries in full, and older
chapters compressed into arc summaries. Each part is capped, and arcs merge
(ten chapters, then twenty, forty...) until they fit, so the prompt of chapter
300 is no larger than the prompt of chapter 30.

Arc summaries are the model's when it wrote them (``agents.arcs``: one per
finished stretch of ``arc_size`` chapters, given in ``arcs``), else
extractive: the first sentence of each chapter summary. Either way the
builder itself makes no model call and is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache

from agents.prompts import PromptLibrary
from agents.render import render_state
from agents.tokens import estimate_tokens, tail_to_tokens, truncate_to_tokens
from state.models import StoryState

# Shares of the budget (after the fixed part of the prompt) each part may take.
BIBLE_SHARE = 0.35
STATE_SHARE = 0.25
RECENT_SHARE = 0.6  # of what is left after the bible and the state

_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s*")


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """How many tokens a writer's prompt may take, and how summaries are grouped."""

    total: int = 8000
    recent: int = 3
    arc_size: int = 10
    arc_tokens: int = 150
    ending: int = 400  # tokens of the previous chapter's end, once it is final


@dataclass(frozen=True, slots=True)
class WriterContext:
    """The variable parts of a writer's prompt, already within budget."""

    bible: str
    state: str
    recent: str
    arcs: str
    tokens: int


class ContextBuilder:
    """Builds bounded writer contexts for one project language."""

    def __init__(self, prompts: PromptLibrary, language: str, budget: ContextBudget) -> None:
        self.prompts = prompts
        self.language = language
        self.budget = budget

    def build(
        self,
        *,
        bible: str,
        state: StoryState,
        summaries: Mapping[int, str],
        chapter: int,
        focus: Collection[str] = (),
        threads: Collection[str] = (),
        reserved: int = 0,
        arcs: Mapping[int, str] | None = None,
    ) -> WriterContext:
        """The context for ``chapter``; ``reserved`` tokens are already spent elsewhere."""
        room = max(0, self.budget.total - reserved)
        # The bible is the prompt-cache prefix every writer shares: its cut depends on the
        # budget alone, never on this chapter's prompt, or each cut is a cache write.
        bible_cap = min(int(self.budget.total * BIBLE_SHARE), room)
        bible_text = truncate_to_tokens(bible, bible_cap)
        state_text = self._state(state, focus, threads, int(room * STATE_SHARE))
        left = room - estimate_tokens(bible_text) - estimate_tokens(state_text)
        earlier = {n: s for n, s in summaries.items() if n < chapter}
        recent_numbers = sorted(earlier)[-self.budget.recent :] if self.budget.recent else []
        recent = self._recent(earlier, recent_numbers, int(left * RECENT_SHARE))
        left -= estimate_tokens(recent)
        older = {n: s for n, s in earlier.items() if n not in recent_numbers}
        arc_text = self._arcs(older, left, arcs or {})
        parts = (bible_text, state_text, recent, arc_text)
        return WriterContext(*parts, tokens=sum(estimate_tokens(p) for p in parts))

    def _state(
        self, state: StoryState, focus: Collection[str], threads: Collection[str], cap: int
    ) -> str:
        return state_within(state, focus, threads, cap)

    def _recent(self, summaries: Mapping[int, str], numbers: list[int], cap: int) -> str:
        lines = [
            self.prompts.render("recap", self.language, number=n, summary=summaries[n].strip())
            for n in numbers
        ]
        # Drop the oldest of the recent chapters first, rather than cut the newest.
        while lines and estimate_tokens("\n".join(lines)) > cap:
            lines.pop(0)
        return "\n".join(lines)

    def _arcs(self, summaries: Mapping[int, str], cap: int, written: Mapping[int, str]) -> str:
        if not summaries or cap <= 0:
            return ""
        size = max(1, self.budget.arc_size)
        while True:
            text = "\n".join(self._arc_lines(summaries, size, written))
            if estimate_tokens(text) <= cap or size >= max(summaries):
                return truncate_to_tokens(text, cap)
            size *= 2

    def _arc_lines(
        self, summaries: Mapping[int, str], size: int, written: Mapping[int, str]
    ) -> list[str]:
        groups: dict[int, list[int]] = {}
        for number in sorted(summaries):
            groups.setdefault((number - 1) // size, []).append(number)
        base = max(1, self.budget.arc_size)
        lines = []
        for index, numbers in groups.items():
            first = index * size + 1
            # A model-written arc covers its whole stretch, recent chapters included.
            covered = [start + base - 1 for start in written if first <= start < first + size]
            lines.append(
                self.prompts.render(
                    "arc",
                    self.language,
                    first=numbers[0],
                    last=max([numbers[-1], *covered]),
                    summary=self._group(numbers, summaries, written),
                )
            )
        return lines

    def _group(
        self, numbers: list[int], summaries: Mapping[int, str], written: Mapping[int, str]
    ) -> str:
        """One arc: the model's arcs of its stretches where written, else the first sentences
        of its chapters' summaries; within ``arc_tokens`` a stretch."""
        base = max(1, self.budget.arc_size)
        stretches: dict[int, list[int]] = {}
        for number in numbers:
            stretches.setdefault((number - 1) // base * base + 1, []).append(number)
        if not any(start in written for start in stretches):
            return self._compress([summaries[n] for n in numbers])
        joiner = "" if self.language == "zh" else " "
        parts = [
            written[start] if start in written else self._compress([summaries[n] for n in chunk])
            for start, chunk in stretches.items()
        ]
        return truncate_to_tokens(joiner.join(parts), self.budget.arc_tokens)

    def _compress(self, summaries: list[str]) -> str:
        joiner = "" if self.language == "zh" else " "
        return compress(tuple(summaries), joiner, self.budget.arc_tokens)


def state_within(
    state: StoryState, focus: Collection[str], threads: Collection[str], cap: int
) -> str:
    """The state as YAML within ``cap`` tokens: all of it if it fits, else the characters in
    ``focus`` (and the ``threads``), cut to fit."""
    full = render_state(state, threads=threads)
    if estimate_tokens(full) <= cap:
        return full
    return truncate_to_tokens(render_state(state, characters=focus, threads=threads), cap)


def closing_paragraphs(text: str, max_tokens: int) -> str:
    """The last paragraphs of ``text`` within ``max_tokens`` (the last one cut from its
    start when even it is too long); empty when ``max_tokens`` is 0."""
    if max_tokens <= 0 or not text.strip():
        return ""
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    kept: list[str] = []
    for paragraph in reversed(paragraphs):
        if kept and estimate_tokens("\n\n".join([paragraph, *kept])) > max_tokens:
            break
        kept.insert(0, paragraph)
    closing = "\n\n".join(kept)
    if estimate_tokens(closing) <= max_tokens:
        return closing
    return tail_to_tokens(closing, max_tokens)


@lru_cache(maxsize=4096)
def compress(summaries: tuple[str, ...], joiner: str, max_tokens: int) -> str:
    """An arc summary: the first sentence of each chapter summary, within ``max_tokens``.

    Cached: the arcs of early chapters are the same for every later chapter.
    """
    firsts = [first_sentence(s) for s in summaries if s.strip()]
    return truncate_to_tokens(joiner.join(firsts), max_tokens)


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (all of it if it has no sentence end)."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    return parts[0]
