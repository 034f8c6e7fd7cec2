"""The writing figures on hand-made texts whose answers are known."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.review.writing import (
    ChapterText,
    length_score,
    ngrams,
    overused_phrases,
    phrase_counts,
    threads_on_time,
    tokens,
    writing_figures,
)
from state.models import Foreshadowing


@pytest.mark.parametrize(
    ("length", "score"),
    [
        (1000, 100.0),  # on target
        (2000, 100 * (1 - 1 / 3)),  # twice the target: a third off
        (4000, 0.0),  # four times: nothing left
        (9000, 0.0),  # beyond: never below zero
        (500, 50.0),  # half the target: half off
        (250, 0.0),  # a third or less: nothing
        (0, 0.0),  # no text
    ],
)
def test_length_score_at_known_points(length: int, score: float) -> None:
    assert length_score(1000, length) == pytest.approx(score)


def test_length_score_refuses_a_target_of_nothing() -> None:
    with pytest.raises(ValueError, match="positive"):
        length_score(0, 10)


def test_english_tokens_are_case_folded_words_without_punctuation() -> None:
    assert tokens("The cat — didn’t! THE cat.", "en") == ["the", "cat", "didn't", "the", "cat"]


def test_chinese_tokens_are_characters_and_latin_runs() -> None:
    assert tokens("她说：“OK，走吧。”", "zh") == ["她", "说", "ok", "走", "吧"]


def test_repetition_within_a_chapter_is_the_share_of_repeated_ngrams() -> None:
    # 8 words, 5 four-grams: "a b c d" twice, the three between once each -> 2/5.
    figures = writing_figures([ChapterText(1, "a b c d a b c d")], "en", 8, phrases=())
    chapter = figures.chapters[0]
    assert len(ngrams(tokens("a b c d a b c d", "en"), 4)) == 5
    assert chapter.repeated_within_pct == 40.0
    assert chapter.repeated_across_pct == 0.0
    assert figures.book.repeated_pct == 40.0


def test_repetition_across_chapters_counts_ngrams_another_chapter_has() -> None:
    one = ChapterText(1, "the old man and the sea")  # 3 four-grams
    two = ChapterText(2, "he saw the old man and wept")  # 4 four-grams, 1 shared
    figures = writing_figures([one, two], "en", 6, phrases=())
    first, second = figures.chapters
    assert first.repeated_across_pct == pytest.approx(100 / 3, abs=0.05)
    assert second.repeated_across_pct == 25.0
    assert first.repeated_within_pct == second.repeated_within_pct == 0.0
    # The book: 7 four-grams, "the old man and" twice.
    assert figures.book.repeated_pct == pytest.approx(200 / 7, abs=0.05)
    assert figures.book.repeated_across_pct == pytest.approx(200 / 7, abs=0.05)
    assert figures.book.repeated_within_pct == 0.0


def test_chinese_repetition_uses_eight_character_ngrams() -> None:
    line = "她推开灯塔的门走了进去"  # 11 characters: 4 eight-grams
    figures = writing_figures([ChapterText(1, f"{line}。{line}。")], "zh", 22, phrases=())
    assert figures.ngram == 8
    # 22 characters, 15 eight-grams: the 4 in each copy repeat, the 7 spanning both do not.
    assert figures.chapters[0].repeated_within_pct == pytest.approx(800 / 15, abs=0.05)


def test_overused_phrases_are_whole_words_in_any_case() -> None:
    text = "A testament to grit. a Testament to luck. Tapestry, tapestries. He couldn’t help but."
    found = phrase_counts(text, ["a testament to", "tapestry", "couldn't help but"], "en")
    assert found == {"a testament to": 2, "tapestry": 1, "couldn't help but": 1}


def test_overused_phrases_per_ten_thousand_words() -> None:
    # 2 of them in 40 words: 500 per 10,000.
    text = " ".join(["word"] * 33) + " a pang of doubt, a pang of"
    figures = writing_figures([ChapterText(1, text)], "en", 40, phrases=["a pang of"])
    assert figures.chapters[0].length == 40
    assert figures.chapters[0].overused == 2
    assert figures.chapters[0].overused_per_10k == 500.0
    assert [(p.phrase, p.count, p.per_10k) for p in figures.book.overused_phrases] == [
        ("a pang of", 2, 500.0)
    ]


def test_a_chinese_book_counts_characters() -> None:
    text = "他不禁笑了。她仿佛没听见，不禁摇头。"  # 15 Han characters; punctuation is not counted
    figures = writing_figures([ChapterText(1, text)], "zh", 30, phrases=["不禁", "仿佛"])
    chapter = figures.chapters[0]
    assert figures.unit == "characters"
    assert chapter.length == 15
    assert chapter.length_score == 50.0  # half the target of 30 characters
    assert chapter.overused == 3
    assert chapter.overused_per_10k == 2000.0


def test_findings_are_counted_per_ten_thousand_words() -> None:
    chapters = [ChapterText(1, " ".join(["w"] * 500)), ChapterText(2, " ".join(["w"] * 1500))]
    figures = writing_figures(chapters, "en", 1000, finding_chapters=[2, 2, 1], phrases=())
    assert [c.findings for c in figures.chapters] == [1, 2]
    assert [c.findings_per_10k for c in figures.chapters] == [20.0, 13.33]
    assert figures.book.findings_per_10k == 15.0


def test_continuations_and_revisions_add_up() -> None:
    chapters = [
        ChapterText(1, "one", continuations=2, stop_reason="max_tokens", revisions=1),
        ChapterText(2, "two", revisions=2),
    ]
    figures = writing_figures(chapters, "en", 100, phrases=())
    assert figures.book.continuations == 2
    assert figures.book.revisions == 3
    assert figures.book.revisions_per_chapter == 1.5
    assert figures.chapters[0].stop_reason == "max_tokens"


def test_a_thread_is_on_time_when_paid_off_by_its_due_chapter_after_its_planting() -> None:
    threads = [
        Foreshadowing(id="key", status="paid_off", planted_in=1, paid_off_in=3, payoff_due=3),
        Foreshadowing(id="late", status="paid_off", planted_in=1, paid_off_in=4, payoff_due=3),
        Foreshadowing(id="never", status="planted", planted_in=2, payoff_due=4),
        Foreshadowing(id="early", status="paid_off", planted_in=2, paid_off_in=2, payoff_due=4),
        Foreshadowing(id="later", status="planned", payoff_due=9),  # after the last chapter
    ]
    assert threads_on_time(threads, last=5) == {3: (2, 1), 4: (2, 0)}
    chapters = [ChapterText(n, "text") for n in range(1, 6)]
    book = writing_figures(chapters, "en", 100, threads=threads, phrases=()).book
    assert (book.threads_due, book.threads_on_time) == (4, 1)
    unknown = writing_figures(chapters, "en", 100, phrases=()).book
    assert unknown.threads_due is None


def test_the_phrase_lists_ship_for_both_languages() -> None:
    assert "a testament to" in overused_phrases("en")
    assert "嘴角勾起一抹" in overused_phrases("zh")
    assert overused_phrases("fr") == overused_phrases("en")


def _plain_repetition(texts: list[str], n: int) -> tuple[float, float, float]:
    """The book's repetition shares counted the plainest way: tuples of words, all kept."""
    grams = [ngrams(tokens(text, "en"), n) for text in texts]
    book = Counter(g for mine in grams for g in mine)
    positions = sum(len(mine) for mine in grams) or 1
    anywhere = sum(book[g] > 1 for mine in grams for g in mine)
    within = sum(Counter(mine)[g] > 1 for mine in grams for g in mine)
    across = sum(book[g] > Counter(mine)[g] for mine in grams for g in mine)
    anywhere, within, across = (round(100 * k / positions, 1) for k in (anywhere, within, across))
    return anywhere, within, across


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=30), max_size=6))
def test_repetition_matches_the_plain_count_of_word_tuples(chapters: list[list[str]]) -> None:
    texts = [" ".join(words) for words in chapters]
    figures = writing_figures(
        [ChapterText(i, text) for i, text in enumerate(texts, 1)], "en", 10, phrases=()
    )
    book = figures.book
    expected = _plain_repetition(texts, 4)
    assert (book.repeated_pct, book.repeated_within_pct, book.repeated_across_pct) == expected
