"""The four ways to ask a server for a structured reply (``llm.structured``), the default
each known server gets, and a novel written through the fake in the modes without tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from agents.clients.base import LLMRequest, Message, SystemBlock
from agents.clients.openai_wire import chat_params
from orchestrator.project.clients import structured_mode
from orchestrator.project.config import LLMSection
from tests.openai.conftest import StartFake, run_on_fake


class Verdict(BaseModel):
    """Whether the scene works."""

    works: bool


REQUEST = LLMRequest(
    agent="editor",
    model="m",
    system=(SystemBlock("You judge scenes."),),
    messages=(Message("user", "Judge it."),),
    output_model=Verdict,
)


def test_tools_force_the_one_function() -> None:
    params = chat_params(REQUEST, "tools")
    assert params["tool_choice"]["function"]["name"] == "verdict"
    assert "response_format" not in params
    assert "JSON Schema" not in params["messages"][0]["content"]


def test_json_schema_sends_the_schema_as_the_response_format() -> None:
    params = chat_params(REQUEST, "json_schema")
    assert params["response_format"]["type"] == "json_schema"
    assert params["response_format"]["json_schema"]["name"] == "verdict"
    assert params["response_format"]["json_schema"]["schema"]["title"] == "Verdict"
    assert "tools" not in params


@pytest.mark.parametrize(("mode", "response_format"), [("json", "json_object"), ("text", None)])
def test_json_and_text_put_the_schema_in_the_prompt(mode: str, response_format: str | None) -> None:
    params = chat_params(REQUEST, mode)  # type: ignore[arg-type]
    assert '"title": "Verdict"' in params["messages"][0]["content"]
    assert (params.get("response_format") or {}).get("type") == response_format
    assert "tools" not in params


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, "tools"),
        ("https://api.deepseek.com", "tools"),
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "tools"),
        ("https://open.bigmodel.cn/api/paas/v4", "json"),
        ("http://localhost:11434/v1", "json"),
        ("http://127.0.0.1:1234/v1", "json_schema"),
        ("http://localhost:8080/v1", "json_schema"),
        ("http://localhost:8000/v1", "json_schema"),
        ("http://localhost:9999/v1", "tools"),
    ],
)
def test_each_known_server_gets_its_default(base_url: str | None, expected: str) -> None:
    llm = LLMSection(provider="openai", model="m", base_url=base_url)
    assert structured_mode(llm, {}) == expected


def test_a_mode_given_in_the_project_wins_over_the_default() -> None:
    llm = LLMSection(provider="openai", model="m", base_url="http://localhost:11434/v1")
    assert structured_mode(llm.model_copy(update={"structured": "tools"}), {}) == "tools"


@pytest.mark.parametrize("mode", ["json_schema", "text"])
def test_a_novel_is_written_in_the_modes_without_tools(
    mode: str, start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    run = run_on_fake(tmp_path, fake, f"llm.structured={mode}", "project.chapters=3")
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.summary["written"] == 3
    assert {r.mode for r in fake.requests if r.agent != "writer"} == {mode}
    assert {r.mode for r in fake.of("writer")} == {"text"}  # prose is asked for as prose
