"""Which fields ``resume --set`` may change under a started run (``orchestrator.run.amend``)."""

from __future__ import annotations

import pytest

from orchestrator.run.amend import fixed_reason


@pytest.mark.parametrize(
    "field",
    [
        "project.chapters",
        "project.language",
        "project.outline",
        "project.title",
        "characters",
        "world",
        "state.url",
        "state.durability",
    ],
)
def test_what_a_started_run_rests_on_is_fixed(field: str) -> None:
    assert fixed_reason(field)


@pytest.mark.parametrize(
    "field",
    [
        "llm.budget_usd",
        "llm.model",
        "llm.rate_limits.requests_per_minute",
        "orchestrator.workers",
        "project.target_words",
        "state.thresholds.lock_wait_p99_ms",
        "publish.folder",
    ],
)
def test_what_may_change_from_now_on(field: str) -> None:
    assert fixed_reason(field) is None


def test_a_store_change_points_to_migrate() -> None:
    assert "orchestrator state migrate" in (fixed_reason("state.url") or "")
