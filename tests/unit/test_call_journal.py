"""model_calls.jsonl: calls of earlier processes are read back; a torn last line is dropped."""

from __future__ import annotations

from pathlib import Path

from agents.clients.base import LLMRequest, LLMResponse, Usage
from agents.clients.metered import MeteredClient


class Fixed:
    """A model client that answers every request with the same usage."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        usage = Usage(input_tokens=10, output_tokens=5, cost_usd=0.5)
        return LLMResponse(model=request.model, usage=usage, text="ok")


def request() -> LLMRequest:
    return LLMRequest(agent="planner", model="m", system=(), messages=())


async def test_a_second_process_counts_the_first_ones_calls(tmp_path: Path) -> None:
    path = tmp_path / "model_calls.jsonl"
    first = MeteredClient(Fixed())
    first.keep_journal(path)
    for _ in range(3):
        await first.complete(request())
    await first.aclose()

    second = MeteredClient(Fixed())
    second.keep_journal(path)
    await second.complete(request())

    assert len(second.calls) == 4
    assert [call.session for call in second.calls] == [0, 0, 0, 1]
    assert second.usage().cost_usd == 2.0
    assert second.critical_path == 1  # the depth is this process's own
    await second.aclose()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4


async def test_a_line_torn_by_a_kill_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "model_calls.jsonl"
    first = MeteredClient(Fixed())
    first.keep_journal(path)
    await first.complete(request())
    await first.aclose()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"agent": "writer", "mod')  # killed mid-line

    second = MeteredClient(Fixed())
    second.keep_journal(path)
    await second.complete(request())
    await second.aclose()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert len(second.calls) == 2
