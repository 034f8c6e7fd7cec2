"""Every text the review and the report show exists in both languages."""

from __future__ import annotations

from typing import Any

import yaml

from agents.prompts import default_prompts_dir


def _keys(node: Any, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return {prefix}
    return {k for key, value in node.items() for k in _keys(value, f"{prefix}.{key}")}


def _load(name: str) -> Any:
    return yaml.safe_load((default_prompts_dir() / name).read_text(encoding="utf-8"))


def test_the_printed_review_has_every_label_in_english_and_chinese() -> None:
    en, zh = _load("labels.en.yaml"), _load("labels.zh.yaml")
    assert _keys(en["review"]) == _keys(zh["review"])
    assert _keys(en["summary"]) == _keys(zh["summary"])


def test_the_report_has_every_text_in_english_and_chinese() -> None:
    assert set(_load("report.en.yaml")) == set(_load("report.zh.yaml"))
