"""Retries and errors counted by reason (``orchestrator.run.incidents``), and their line in
the summary and ``status``, in English and in Chinese."""

from __future__ import annotations

from typing import Any

from agents.prompts import PromptLibrary
from orchestrator.run.incidents import Incidents, ReasonCount, count_incidents
from orchestrator.run.summary import incidents_line

LOG: list[dict[str, Any]] = [
    {
        "event": "model_call_retry",
        "level": "warning",
        "reason": "429 rate_limit_error",
        "wait_s": 0.5,
    },
    {"event": "model_call_retry", "level": "warning", "reason": "timeout", "wait_s": 1.25},
    {
        "event": "model_call_retry",
        "level": "warning",
        "reason": "429 rate_limit_error",
        "wait_s": 0.5,
    },
    {"event": "chapter_failed", "level": "info", "error": "no valid reply after 2 attempts: text"},
    {"event": "chapter_failed", "level": "info", "error": "no valid reply after 2 attempts: title"},
    {"event": "continuity_editor_failed", "level": "warning", "error": "overloaded"},
    {"event": "chapter_committed", "level": "info"},
]
CALLS: list[dict[str, Any]] = [
    {"agent": "writer", "error": "ModelCallError"},
    {"agent": "writer", "error": None},
]


def test_retries_and_errors_are_grouped_by_reason_most_first() -> None:
    found = count_incidents(LOG, CALLS)

    assert found.retries == [
        ReasonCount(reason="429 rate_limit_error", count=2, waited_s=1.0),
        ReasonCount(reason="timeout", count=1, waited_s=1.25),
    ]
    assert found.retry_count == 3
    assert found.waited_s == 2.25
    assert [(e.reason, e.count) for e in found.errors] == [
        ("chapter attempt: no valid reply after 2 attempts", 2),
        ("continuity_editor_failed", 1),
        ("writer call: ModelCallError", 1),
    ]
    assert found.error_count == 4


def test_the_line_in_english_and_in_chinese() -> None:
    found = count_incidents(LOG, CALLS)
    library = PromptLibrary()

    english = incidents_line(found, library.labels("en"))
    assert english.startswith("retries 3 (429 rate_limit_error ×2, timeout ×1), waited 2.2 s; ")
    assert "errors 4 (chapter attempt: no valid reply after 2 attempts ×2, " in english
    chinese = incidents_line(found, library.labels("zh"))
    assert chinese.startswith("重试3次（429 rate_limit_error ×2")
    assert "等待2.2秒；错误4处（" in chinese
    assert incidents_line(Incidents(), library.labels("en")) == "no retries; no errors"
    assert incidents_line(Incidents(), library.labels("zh")) == "没有重试；没有错误"
