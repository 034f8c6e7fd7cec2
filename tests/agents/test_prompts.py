from pathlib import Path

import pytest

from agents.errors import PromptError
from agents.prompts import PromptLibrary

AGENT_TEMPLATES = [
    "bible",
    "bible_character",
    "planner",
    "planner.system",
    "writer",
    "writer.system",
    "writer_revision",
    "editor",
    "editor.system",
    "recap",
    "arc",
    "retry",
]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", AGENT_TEMPLATES)
def test_every_template_exists_in_both_languages(
    prompts: PromptLibrary, name: str, language: str
) -> None:
    assert prompts.template(name, language).template.strip()


def test_a_missing_value_names_the_file_and_the_value(prompts: PromptLibrary) -> None:
    with pytest.raises(PromptError) as caught:
        prompts.render("recap", "en", number=3)
    assert "recap.en.md" in str(caught.value)
    assert "$summary" in str(caught.value)


def test_a_missing_template_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"nowhere\.fr\.md"):
        PromptLibrary(tmp_path).render("nowhere", "fr")


def test_templates_come_from_the_folder_given(tmp_path: Path) -> None:
    (tmp_path / "hello.en.md").write_text("Hello, $name. It costs $$5.\n", encoding="utf-8")
    assert PromptLibrary(tmp_path).render("hello", "en", name="Mara") == "Hello, Mara. It costs $5."
