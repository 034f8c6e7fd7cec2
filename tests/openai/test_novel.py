"""Whole novels through ``orchestrator run``, the real ``openai`` SDK and the fake
Chat Completions server: in English with a fault on every request, in Chinese in JSON
mode with a reasoning model, a chapter failed cleanly, and the key nowhere but the wire.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agents.clients.base import Usage
from agents.clients.pricing import load_prices
from tests.e2e.conftest import CJK, ZH_PROJECT, Run, cli_env, orchestrator, write_project
from tests.fake_openai import FakeOpenAI, Fault, Rule
from tests.fake_openai.server import DECOY
from tests.openai.conftest import (
    API_KEY,
    MODEL,
    RUN_SETS,
    SECRET,
    StartFake,
    files_holding,
    run_on_fake,
)

CHAPTERS = 6
WRITER_FAULTS: dict[int, list[Fault]] = {
    1: [Fault("rate_limit", retry_after=0.3)] * 2,
    2: [Fault("server_error")],
    3: [Fault("drop")],
}
EXTRACTOR_FAULTS: dict[int, list[Fault]] = {
    4: [Fault("fenced")],  # read leniently: no retry at all
    5: [Fault("invalid")],  # sent back once with the validation errors
}


def log_events(run: Run, event: str) -> list[dict[str, Any]]:
    lines = (run.folder / "logs" / "run.jsonl").read_text(encoding="utf-8").splitlines()
    return [entry for line in lines if (entry := json.loads(line)).get("event") == event]


def fake_usage(fake: FakeOpenAI) -> Usage:
    """What the fake's replies said they used, summed, as the client counts it."""
    total = Usage()
    for request in fake.requests:
        if request.usage is not None:
            counted = request.usage
            total = total + Usage(
                input_tokens=counted.prompt_tokens - counted.cached_tokens,
                output_tokens=counted.completion_tokens,
                cache_read_tokens=counted.cached_tokens,
            )
    return total


@pytest.fixture(scope="module")
def stormy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, FakeOpenAI]:
    """A six-chapter English novel whose requests meet scripted faults first."""
    rules = [
        Rule([Fault("rate_limit", retry_after=0.2)], agent="planner"),
        *(Rule(faults, agent="writer", chapter=n) for n, faults in WRITER_FAULTS.items()),
        *(Rule(faults, agent="extractor", chapter=n) for n, faults in EXTRACTOR_FAULTS.items()),
        Rule([Fault("server_error")], agent="editor"),
    ]
    fake = FakeOpenAI(rules=rules).start()
    try:
        run = run_on_fake(tmp_path_factory.mktemp("stormy"), fake, f"project.chapters={CHAPTERS}")
    finally:
        fake.stop()
    return run, fake


def test_every_chapter_is_written_through_the_faults(stormy: tuple[Run, FakeOpenAI]) -> None:
    run, fake = stormy
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.summary["written"] == CHAPTERS
    assert run.summary["failed"] == []
    assert "Chapter 6:" in (run.folder / "manuscript.md").read_text(encoding="utf-8")
    for chapter, faults in WRITER_FAULTS.items():
        seen = [r.fault for r in fake.of("writer", chapter)]
        assert seen == [f.kind for f in faults] + [None], chapter
    for chapter, faults in EXTRACTOR_FAULTS.items():
        seen = [r.fault for r in fake.of("extractor", chapter)]
        assert seen == [f.kind for f in faults] + ([None] if chapter != 4 else []), chapter
    assert [r.fault for r in fake.of("planner")] == ["rate_limit", None]
    assert [r.fault for r in fake.of("editor")] == ["server_error", None]
    assert {r.path for r in fake.requests} == {"/v1/chat/completions"}
    assert {r.mode for r in fake.of("writer")} == {"text"}  # prose, never inside JSON
    assert {r.mode for r in fake.requests if r.agent != "writer"} == {"tools"}


def test_retries_are_logged_and_retry_after_is_waited_out(
    stormy: tuple[Run, FakeOpenAI],
) -> None:
    run, fake = stormy
    retries = log_events(run, "model_call_retry")
    assert len(retries) == 1 + 2 + 1 + 1 + 1  # planner, ch 1 twice, ch 2, ch 3, editor
    by_chapter = Counter(r["chapter"] for r in retries if r["agent"] == "writer")
    assert by_chapter == {1: 2, 2: 1, 3: 1}
    reasons = {r["chapter"]: r["reason"] for r in retries if r["agent"] == "writer"}
    assert reasons[1] == "429 rate_limit_exceeded"
    assert reasons[2] == "500 server_error"
    assert reasons[3] == "connection error"
    assert all(r["retry_after"] == 0.3 for r in retries if r["chapter"] == 1)
    arrivals = [r.at for r in fake.of("writer", 1)]
    assert arrivals[1] - arrivals[0] >= 0.3
    assert arrivals[2] - arrivals[1] >= 0.3


def test_an_invalid_reply_was_sent_back_once_with_the_errors(
    stormy: tuple[Run, FakeOpenAI],
) -> None:
    _, fake = stormy
    first, second = fake.of("extractor", 5)
    assert [m["role"] for m in first.body["messages"]] == ["system", "user"]
    system, user, assistant, feedback = second.body["messages"]
    assert [system, user] == first.body["messages"]
    assert assistant["role"] == "assistant"
    assert '"summary"' not in assistant["content"]
    assert feedback["role"] == "user"
    assert "summary: Field required" in feedback["content"]


def test_usage_and_cost_are_what_the_server_reported(stormy: tuple[Run, FakeOpenAI]) -> None:
    run, fake = stormy
    usage = Usage.model_validate(run.summary["usage"])
    expected = fake_usage(fake)
    assert usage.input_tokens == expected.input_tokens
    assert usage.output_tokens == expected.output_tokens
    assert usage.cache_read_tokens == expected.cache_read_tokens > 0  # the shared system prompt
    assert usage.cache_write_tokens == 0
    assert usage.cost_usd == pytest.approx(load_prices().require(MODEL).cost(expected))
    calls = run.read_json("metrics.json")["llm"]["calls"]
    # planner, writers, extractors (ch 5 twice), editor
    assert len(calls) == run.summary["model_calls"] == 1 + CHAPTERS + CHAPTERS + 1 + 1
    assert f"cost ${usage.cost_usd:.4f}" in run.proc.stdout


def test_the_key_was_sent_and_is_nowhere_in_the_run(stormy: tuple[Run, FakeOpenAI]) -> None:
    run, fake = stormy
    assert {r.api_key for r in fake.requests} == {API_KEY}
    assert files_holding(run.folder, SECRET) == []
    assert SECRET not in run.proc.stdout + run.proc.stderr


@pytest.fixture(scope="module")
def chinese(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, FakeOpenAI]:
    """A six-chapter Chinese novel by a reasoning model in JSON mode, at a root base URL,
    every long call streamed."""
    fake = FakeOpenAI(prefix="").start()
    try:
        run = run_on_fake(
            tmp_path_factory.mktemp("zh"),
            fake,
            "llm.model=deepseek-reasoner",
            "llm.structured=json",
            "llm.stream=true",
            "llm.drift=0",
            project=ZH_PROJECT,
        )
    finally:
        fake.stop()
    return run, fake


def test_a_chinese_novel_is_written_in_json_mode(chinese: tuple[Run, FakeOpenAI]) -> None:
    run, fake = chinese
    assert run.proc.returncode == 0, run.proc.stderr
    summary = run.summary
    assert summary["language"] == "zh"
    assert summary["written"] == CHAPTERS
    manuscript = (run.folder / "manuscript.md").read_text(encoding="utf-8")
    assert manuscript.startswith("# 灯塔账簿\n")
    assert re.findall(r"^## 第(\d+)章 ", manuscript, re.M) == [str(n) for n in range(1, 7)]
    assert len(CJK.findall(run.chapter_text(3))) > 100
    assert {r.mode for r in fake.requests if r.agent != "writer"} == {"json"}
    assert {r.mode for r in fake.of("writer")} == {"text"}
    # Calls with max_tokens from stream_from_tokens on are streamed: every chapter; the
    # extractor's reports (at most 1,024 tokens) are not.
    long = [r for r in fake.requests if r.body["max_tokens"] >= 4096]
    assert {r.agent for r in long} >= {"planner", "writer", "editor"}
    assert all(r.body.get("stream") is True for r in long)
    assert not any(r.body.get("stream") for r in fake.of("extractor"))
    assert {r.path for r in fake.requests} == {"/chat/completions"}
    structured = [r for r in fake.requests if r.agent != "writer"]
    assert all("JSON Schema" in r.body["messages"][0]["content"] for r in structured)
    assert not any("JSON Schema" in r.body["messages"][0]["content"] for r in fake.of("writer"))


def test_reasoning_is_never_the_reply_and_its_tokens_are_counted(
    chinese: tuple[Run, FakeOpenAI],
) -> None:
    run, fake = chinese
    assert "NOT THE REPLY" not in (run.folder / "manuscript.md").read_text(encoding="utf-8")
    assert all(r.body["messages"][-1]["role"] == "user" for r in fake.requests)
    assert all(DECOY not in json.dumps(r.body, ensure_ascii=False) for r in fake.requests)
    reasoning = sum(r.usage.reasoning_tokens for r in fake.requests if r.usage)
    assert reasoning > 0
    assert run.summary["usage"]["output_tokens"] == fake_usage(fake).output_tokens


def test_a_malformed_reply_is_sent_back_once_then_the_chapter_fails_cleanly(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake(
        Rule([Fault("malformed"), Fault("malformed")], agent="extractor", chapter=2),
        Rule([Fault("bad_request")], agent="writer", chapter=3),
    )
    run = run_on_fake(tmp_path, fake, "project.chapters=4", run_dir="failing")

    assert run.proc.returncode == 1, run.proc.stderr
    summary = run.summary
    assert summary["failed"] == [2, 3]
    assert summary["written"] == 2
    errors = {o["chapter"]: o["error"] for o in summary["chapter_outcomes"]}
    assert "no valid reply after 2 attempts" in errors[2]
    assert "Invalid JSON" in errors[2]
    assert "400 invalid_request_error: max_tokens is too large for this model" in errors[3]
    first, second = fake.of("extractor", 2)
    assert [m["role"] for m in first.body["messages"]] == ["system", "user"]
    broken = second.body["messages"][-2]
    assert broken["role"] == "assistant"
    assert broken["content"].startswith('{"summary": ')  # the cut-off reply went back as it was
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken["content"])
    assert "Invalid JSON" in second.body["messages"][-1]["content"]
    assert len(fake.of("writer", 3)) == 1  # a 400 is not retried
    assert "Traceback" not in run.proc.stderr
    assert files_holding(run.folder, SECRET) == []


def test_a_key_from_a_named_variable_is_in_no_log(start_fake: StartFake, tmp_path: Path) -> None:
    fake = start_fake(Rule([Fault("auth")], agent="writer", chapter=1))
    env = cli_env(MY_DEEPSEEK_KEY=API_KEY)
    env.pop("OPENAI_API_KEY", None)
    config = write_project(tmp_path)
    sets = (*RUN_SETS, f"llm.base_url={fake.url}", "llm.api_key_env=MY_DEEPSEEK_KEY")
    args = ["--log-level", "debug", "run", config, "--run-dir", "debug", "--json"]
    for item in (*sets, "project.chapters=2"):
        args += ["--set", item]
    proc = orchestrator(*args, cwd=tmp_path, env=env)

    assert proc.returncode == 1, proc.stderr  # chapter 1 met a 401 that echoed the key
    assert {r.api_key for r in fake.requests} == {API_KEY}
    assert "Building HTTP request" in proc.stderr  # the SDK's own debug lines are there
    assert "[api key]" in json.dumps(Run(tmp_path / "debug", proc).summary)
    assert SECRET not in proc.stdout + proc.stderr
    assert files_holding(tmp_path / "debug", SECRET) == []


def test_a_local_server_needs_no_key_and_its_model_costs_nothing(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    env = cli_env()
    env.pop("OPENAI_API_KEY", None)
    run = run_on_fake(tmp_path, fake, "llm.model=qwen2.5:7b", "project.chapters=2", env=env)

    assert run.proc.returncode == 0, run.proc.stderr
    assert run.summary["usage"]["cost_usd"] == 0
    assert run.summary["usage"]["input_tokens"] > 0
    assert {r.api_key for r in fake.requests} == {"no-key"}


def test_a_remote_server_without_a_key_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    config = write_project(tmp_path)
    env = cli_env()
    env.pop("OPENAI_API_KEY", None)
    sets = [
        "llm.provider=openai",
        "llm.model=deepseek-chat",
        "llm.base_url=https://api.deepseek.com",
    ]
    args: list[str | Path] = ["run", config, "--run-dir", "nokey"]
    for item in sets:
        args += ["--set", item]
    proc = orchestrator(*args, cwd=tmp_path, env=env)

    assert proc.returncode == 2
    assert "llm.provider: is openai, but OPENAI_API_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "nokey").exists()
