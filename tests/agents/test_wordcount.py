from agents.wordcount import count_words


def test_chinese_counts_characters_not_spaces() -> None:
    assert count_words("林晚走进了港务局。", "zh") == 8
    assert count_words("林 晚 走 进", "zh") == 4


def test_chinese_counts_latin_runs_as_words_and_ignores_punctuation() -> None:
    # Fullwidth punctuation is the point here: it must count for nothing.
    assert count_words("她打开了 Gmail 邮箱，看到 2 封信！", "zh") == 12


def test_english_counts_words_not_punctuation() -> None:
    assert count_words("Mara didn't answer — not yet.", "en") == 5
    assert count_words("", "en") == 0


def test_the_same_text_counts_differently_by_language() -> None:
    text = "港口 harbour"
    assert count_words(text, "en") == 2
    assert count_words(text, "zh") == 3
