"""Figures about the writing: how long each chapter is against its target, how much of it
repeats itself, the overused phrases, the continuity findings, the foreshadowing paid off
on time, and how often a chapter was continued or revised.

Pure functions over texts and records (nothing here reads a run folder or a store), so
each figure can be checked on a text whose answer is known. Lengths are in the book's
unit (``agents.wordcount``): words, or characters for Chinese; "per 10,000" is per
10,000 of that unit.

Definitions (docs/concepts/writing-figures.md says how to read them):

- **length score** (LongBench-Write): for a target ``x`` and a length ``y``,
  ``100·max(0, 1 - (y/x - 1)/3)`` when ``y > x``, else ``100·max(0, 1 - (x/y - 1)/2)``;
  100 on target, 0 at four times the target or a third of it. The book's score is the
  mean over its written chapters.
- **repeated phrasing**: the text as tokens (English: words, case-folded, punctuation
  dropped; Chinese: each Han character, and each run of Latin letters or digits, is one
  token), then every run of ``n`` consecutive tokens (an n-gram; ``n`` is 4 for English,
  8 for Chinese). *Within* a chapter: the share (%) of its n-grams that occur more than
  once in that chapter. *Across* chapters: the share of its n-grams that also occur in
  another chapter. For the book, each share is over all the book's n-grams, and
  *repeated* is the share that occur more than once anywhere in the book.
- **overused phrases**: each phrase of ``prompts/overused.<lang>.yaml`` counted where it
  stands as whole words (English, any case) or as a substring (Chinese).
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agents import yamltext
from agents.prompts import default_prompts_dir
from agents.text import CJK_CHAR, LATIN_WORD
from agents.wordcount import count_words
from state.models import Foreshadowing

# Tokens per n-gram: about four words either way (a Chinese word is one to two characters).
NGRAM = {"en": 4, "zh": 8}
PER = 10_000
TOP_PHRASES = 10
# One token: a Han character, or a run of letters or digits (inner apostrophes kept).
_ZH_TOKEN = re.compile(f"{CJK_CHAR.pattern}|{LATIN_WORD.pattern}")

Gram = tuple[str, ...]
K = TypeVar("K", bound=Hashable)


class _Figures(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChapterWriting(_Figures):
    """The writing figures of one chapter."""

    chapter: int
    length: int = Field(description="words, or characters for Chinese")
    length_score: float = Field(description="0-100, LongBench-Write, against the target")
    continuations: int = Field(description="replies that continued the chapter")
    stop_reason: str | None = Field(description="why the writer's last reply ended")
    revisions: int = Field(description="attempts beyond the first")
    repeated_within_pct: float = Field(description="% of its n-grams repeated in it")
    repeated_across_pct: float = Field(description="% of its n-grams found in another chapter")
    overused: int = Field(description="overused phrases found")
    overused_per_10k: float
    findings: int = Field(description="continuity findings about it")
    findings_per_10k: float
    threads_due: int | None = Field(description="foreshadowing due here; None: not known")
    threads_on_time: int | None = Field(description="of those, paid off by here, after planting")


class PhraseCount(_Figures):
    """An overused phrase and how often the book uses it."""

    phrase: str
    count: int
    per_10k: float


class BookWriting(_Figures):
    """The writing figures of the whole book."""

    chapters: int = Field(description="chapters with a text")
    length: int
    target_per_chapter: int
    length_score: float = Field(description="mean of the chapters' length scores")
    continuations: int
    revisions: int
    revisions_per_chapter: float
    repeated_pct: float = Field(description="% of the book's n-grams found more than once in it")
    repeated_within_pct: float
    repeated_across_pct: float
    overused: int
    overused_per_10k: float
    overused_phrases: list[PhraseCount] = Field(description="the most used, most first")
    findings: int
    findings_per_10k: float
    threads_due: int | None
    threads_on_time: int | None


class WritingFigures(_Figures):
    """Every writing figure of a run: the book's, then each chapter's."""

    language: str
    unit: str = Field(description="what a length counts: words or characters")
    ngram: int = Field(description="tokens per n-gram of the repetition figures")
    book: BookWriting
    chapters: list[ChapterWriting]


@dataclass(frozen=True)
class ChapterText:
    """A written chapter as the figures need it: its prose and what its records say."""

    chapter: int
    text: str
    continuations: int = 0
    stop_reason: str | None = None
    revisions: int = 0


# -- the figures, one by one ------------------------------------------------------------


def length_score(target: int, length: int) -> float:
    """LongBench-Write's length score (0-100) of ``length`` against ``target``."""
    if target <= 0:
        raise ValueError(f"a target length must be positive, got {target}")
    if length <= 0:
        return 0.0
    if length > target:
        return 100 * max(0.0, 1 - (length / target - 1) / 3)
    return 100 * max(0.0, 1 - (target / length - 1) / 2)


def tokens(text: str, language: str) -> list[str]:
    """The text's tokens for the repetition figures (words, or Chinese characters)."""
    folded = text.casefold().replace("\u2019", "'")
    pattern = _ZH_TOKEN if language == "zh" else LATIN_WORD
    return pattern.findall(folded)


def ngrams(words: Sequence[str], n: int) -> list[Gram]:
    """Every run of ``n`` consecutive tokens, in order (none when there are fewer)."""
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def repeated(grams: Sequence[K], counts: Counter[K]) -> int:
    """How many of ``grams`` occur more than once in ``counts``."""
    return sum(1 for gram in grams if counts[gram] > 1)


def elsewhere(grams: Sequence[K], book_counts: Counter[K], own: Counter[K] | None = None) -> int:
    """How many of one chapter's ``grams`` the rest of the book also has: those the book
    (``book_counts``) has more of than the chapter does (``own``: the chapter's counts)."""
    own = Counter(grams) if own is None else own
    return sum(1 for gram in grams if book_counts[gram] > own[gram])


class _Grams:
    """The book's n-grams, small: each token as a 4-byte number (``token_ids``), each
    n-gram as the ``4·n`` bytes of its tokens' numbers, made again from a chapter's numbers
    when needed rather than kept. As tuples of strings, kept for every chapter, a
    1,000-chapter book's n-grams took about 230 MB at the end of its run; these take the
    numbers (4 bytes a token) and the book's counts (one entry per distinct n-gram)."""

    def __init__(self, texts: Iterable[str], language: str, n: int) -> None:
        numbers: dict[str, int] = {}
        self.n = n
        self.chapters = [
            array("I", [numbers.setdefault(t, len(numbers)) for t in tokens(text, language)])
            .tobytes()
            for text in texts
        ]  # fmt: skip
        self.book: Counter[bytes] = Counter()
        for chapter in self.chapters:
            self.book.update(self.of(chapter))

    def of(self, chapter: bytes) -> list[bytes]:
        """A chapter's n-grams, in order (none when it has fewer than ``n`` tokens)."""
        width = 4 * self.n
        return [chapter[i : i + width] for i in range(0, len(chapter) - width + 4, 4)]


def percent(part: float, whole: float) -> float:
    """``part`` as a percentage of ``whole``, to one decimal; 0 when there is no whole."""
    return round(100 * part / whole, 1) if whole else 0.0


def per_10k(count: int, length: int) -> float:
    """``count`` per 10,000 of ``length`` (words or characters), to two decimals."""
    return round(count * PER / length, 2) if length else 0.0


def phrase_counts(text: str, phrases: Iterable[str], language: str) -> Counter[str]:
    """How often each phrase occurs in ``text`` (phrases that never occur left out)."""
    wanted = tuple(phrases)
    if not wanted:
        return Counter()
    pattern, names = _phrase_pattern(wanted, language)
    folded = text.casefold().replace("\u2019", "'")
    return Counter(names[" ".join(found.split())] for found in pattern.findall(folded))


@cache
def _phrase_pattern(
    phrases: tuple[str, ...], language: str
) -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every phrase (one pass over a text), the longest first, and each
    phrase by its folded form. English phrases stand as whole words, with any spaces
    between their words."""
    names = {" ".join(p.casefold().split()): p for p in phrases}
    ordered = sorted(names, key=len, reverse=True)
    if language == "zh":
        return re.compile("|".join(re.escape(p) for p in ordered)), names
    words = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in ordered)
    return re.compile(rf"(?<![\w'])(?:{words})(?![\w'])"), names


def threads_on_time(threads: Iterable[Foreshadowing], last: int) -> dict[int, tuple[int, int]]:
    """Per due chapter up to ``last``: (threads due, of them paid off on time).

    On time: paid off in or before its due chapter, and after the chapter that planted it.
    """
    due: dict[int, tuple[int, int]] = {}
    for thread in threads:
        if thread.payoff_due is None or thread.payoff_due > last:
            continue
        paid, planted = thread.paid_off_in, thread.planted_in
        ok = (
            thread.status == "paid_off"
            and paid is not None
            and planted is not None
            and planted < paid <= thread.payoff_due
        )
        total, kept = due.get(thread.payoff_due, (0, 0))
        due[thread.payoff_due] = (total + 1, kept + ok)
    return due


@cache
def overused_phrases(language: str) -> tuple[str, ...]:
    """The overused phrases of ``language`` (``prompts/overused.<lang>.yaml``; English
    for a language without a list)."""
    path = default_prompts_dir() / f"overused.{'zh' if language == 'zh' else 'en'}.yaml"
    data = yamltext.safe_load(path.read_text(encoding="utf-8"))
    return tuple(str(phrase) for phrase in data["phrases"])


# -- all of them for a book -------------------------------------------------------------


def writing_figures(
    chapters: Sequence[ChapterText],
    language: str,
    target: int,
    finding_chapters: Iterable[int] = (),
    threads: Iterable[Foreshadowing] | None = None,
    phrases: Sequence[str] | None = None,
) -> WritingFigures:
    """The writing figures of a book whose written chapters are ``chapters``.

    ``finding_chapters``: the chapter of each continuity finding; ``threads``: the final
    foreshadowing ledger (None when it is not known: the thread figures are then None);
    ``phrases``: the overused phrases (default: the language's list).
    """
    ordered = sorted(chapters, key=lambda c: c.chapter)
    n = NGRAM.get(language, NGRAM["en"])
    phrases = overused_phrases(language) if phrases is None else phrases
    grams = _Grams((c.text for c in ordered), language, n)
    findings = Counter(finding_chapters)
    last = ordered[-1].chapter if ordered else 0
    due = None if threads is None else threads_on_time(threads, last)
    rows, used, repeats = [], Counter[str](), _Repeats()
    for chapter, numbers in zip(ordered, grams.chapters, strict=True):
        found = phrase_counts(chapter.text, phrases, language)
        used.update(found)
        mine = repeats.add(grams.of(numbers), grams.book)
        rows.append(_chapter(chapter, language, target, mine, found, findings, due))
    book = _book(rows, repeats, used, findings, due, target)
    unit = "characters" if language == "zh" else "words"
    return WritingFigures(language=language, unit=unit, ngram=n, book=book, chapters=rows)


@dataclass
class _Repeats:
    """N-grams counted: in all, repeated within their chapter, found in another chapter,
    found more than once in the book; for the book as chapters are added."""

    positions: int = 0
    within: int = 0
    across: int = 0
    anywhere: int = 0

    def add(self, grams: list[bytes], book: Counter[bytes]) -> _Repeats:
        """Count one chapter's ``grams`` into the book's; the chapter's own counts."""
        own = Counter(grams)
        mine = _Repeats(
            len(grams),
            repeated(grams, own),
            elsewhere(grams, book, own),
            repeated(grams, book),
        )
        self.positions += mine.positions
        self.within += mine.within
        self.across += mine.across
        self.anywhere += mine.anywhere
        return mine


def _chapter(
    chapter: ChapterText,
    language: str,
    target: int,
    grams: _Repeats,
    found: Counter[str],
    findings: Counter[int],
    due: dict[int, tuple[int, int]] | None,
) -> ChapterWriting:
    length = count_words(chapter.text, language)
    threads = None if due is None else due.get(chapter.chapter, (0, 0))
    overused = sum(found.values())
    return ChapterWriting(
        chapter=chapter.chapter,
        length=length,
        length_score=round(length_score(target, length), 1),
        continuations=chapter.continuations,
        stop_reason=chapter.stop_reason,
        revisions=chapter.revisions,
        repeated_within_pct=percent(grams.within, grams.positions),
        repeated_across_pct=percent(grams.across, grams.positions),
        overused=overused,
        overused_per_10k=per_10k(overused, length),
        findings=findings[chapter.chapter],
        findings_per_10k=per_10k(findings[chapter.chapter], length),
        threads_due=None if threads is None else threads[0],
        threads_on_time=None if threads is None else threads[1],
    )


def _book(
    rows: list[ChapterWriting],
    grams: _Repeats,
    used: Counter[str],
    findings: Counter[int],
    due: dict[int, tuple[int, int]] | None,
    target: int,
) -> BookWriting:
    length = sum(r.length for r in rows)
    overused = sum(used.values())
    top = [
        PhraseCount(phrase=phrase, count=count, per_10k=per_10k(count, length))
        for phrase, count in sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PHRASES]
    ]
    revisions = sum(r.revisions for r in rows)
    return BookWriting(
        chapters=len(rows),
        length=length,
        target_per_chapter=target,
        length_score=round(sum(r.length_score for r in rows) / len(rows), 1) if rows else 0.0,
        continuations=sum(r.continuations for r in rows),
        revisions=revisions,
        revisions_per_chapter=round(revisions / len(rows), 2) if rows else 0.0,
        repeated_pct=percent(grams.anywhere, grams.positions),
        repeated_within_pct=percent(grams.within, grams.positions),
        repeated_across_pct=percent(grams.across, grams.positions),
        overused=overused,
        overused_per_10k=per_10k(overused, length),
        overused_phrases=top,
        findings=sum(findings.values()),
        findings_per_10k=per_10k(sum(findings.values()), length),
        threads_due=None if due is None else sum(d for d, _ in due.values()),
        threads_on_time=None if due is None else sum(k for _, k in due.values()),
    )
