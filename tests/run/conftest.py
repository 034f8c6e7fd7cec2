"""Runs of small books in-process, with any model client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agents.clients.base import LLMClient
from agents.clients.metered import MeteredClient
from orchestrator.artifacts.folder import RunFolder
from orchestrator.project.clients import make_client
from orchestrator.project.config import ProjectConfig
from orchestrator.project.load import load_config
from orchestrator.run.novel import RunRequest, run_novel
from orchestrator.run.summary import RunSummary

EXAMPLE = Path(__file__).resolve().parents[2] / "config.yaml"
SMALL = ("project.chapters=6", "project.target_words=120")

Events = list[tuple[str, dict[str, Any]]]
RunBook = Callable[..., Awaitable[tuple[RunSummary, RunFolder, Events]]]


@pytest.fixture
def run_book(tmp_path: Path) -> RunBook:
    """``await run_book("llm.drift=0.5", client=...)``: the summary, the folder, the events."""

    async def run(
        *overrides: str,
        client: Callable[[ProjectConfig], LLMClient] | None = None,
        name: str = "run",
    ) -> tuple[RunSummary, RunFolder, Events]:
        config = load_config(EXAMPLE, [*SMALL, *overrides])
        folder = RunFolder.create(tmp_path / name)
        events: Events = []
        model = client(config) if client else make_client(config)
        request = RunRequest(config=config, config_path=EXAMPLE, folder=folder)
        summary = await run_novel(
            request, lambda event, fields: events.append((event, fields)), MeteredClient(model)
        )
        return summary, folder, events

    return run
