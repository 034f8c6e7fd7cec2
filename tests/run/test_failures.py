"""A chapter whose every reply is invalid fails; the run goes on and keeps the others."""

from __future__ import annotations

import json
from dataclasses import replace

from agents.clients.base import LLMRequest, LLMResponse
from agents.offline.client import OfflineClient
from agents.schemas import ExtractionBrief
from orchestrator.project.config import ProjectConfig
from state import open_state
from tests.run.conftest import RunBook


class BrokenChapter:
    """The offline model, except that chapter ``broken``'s report (the extractor's reply)
    is never JSON."""

    def __init__(self, config: ProjectConfig, broken: int) -> None:
        self.inner = OfflineClient(seed=config.llm.seed)
        self.broken = broken
        self.asked = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self.inner.complete(request)
        brief = request.brief
        if isinstance(brief, ExtractionBrief) and brief.plan.number == self.broken:
            self.asked += 1
            return replace(response, text="I'd rather not.", parsed=None)
        return response


async def test_a_failed_chapter_is_reported_and_the_others_are_kept(run_book: RunBook) -> None:
    clients: list[BrokenChapter] = []

    def broken(config: ProjectConfig) -> BrokenChapter:
        clients.append(BrokenChapter(config, broken=3))
        return clients[0]

    summary, folder, events = await run_book(client=broken)

    assert summary.failed == [3]
    assert summary.exit_code == 1
    assert summary.written == 5
    assert clients[0].asked == 2  # the invalid reply was sent back once with the error
    assert (
        "chapter_failed",
        {"chapter": 3, "attempt": 1, "error": summary.chapter_outcomes[2].error},
    ) in events
    assert not folder.chapter_path(3).exists()
    assert all(folder.chapter_path(n).exists() for n in (1, 2, 4, 5, 6))
    manuscript = (folder.root / "manuscript.md").read_text(encoding="utf-8")
    assert "Chapter 3:" not in manuscript
    assert "Chapter 4:" in manuscript
    saved = json.loads((folder.root / "summary.json").read_text(encoding="utf-8"))
    assert saved["failed"] == [3]
    async with open_state(summary.state_url, create=False) as manager:
        records = await manager.chapters()
        history = await manager.history()
    assert records[3].status == "failed"
    assert "did not validate" in (records[3].error or "") or "no valid reply" in (
        records[3].error or ""
    )
    assert sorted({e.chapter for e in history}) == [1, 2, 4, 5, 6]
