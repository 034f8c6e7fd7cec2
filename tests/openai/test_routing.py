"""Per-agent routing (``llm.agents``): each agent's calls to its own provider, model and
server, each with its own client and rate limiter, and costs summed per provider and model."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.clients.anthropic import AnthropicClient
from agents.clients.openai import OpenAIClient
from agents.clients.routed import RoutedClient
from agents.offline.client import OfflineClient
from orchestrator.project.clients import make_client
from orchestrator.project.load import load_config
from orchestrator.project.problems import ConfigError
from tests.e2e.conftest import cli_env, write_project
from tests.openai.conftest import API_KEY, MODEL, SECRET, StartFake, files_holding, run_on_fake

QWEN_SECRET = "QwEn-77aa"
ANTHROPIC_SECRET = "AnThRoPiC-31c"
ANTHROPIC_KEY = f"sk-ant-{ANTHROPIC_SECRET}"
QWEN_KEY = f"sk-qwen-{QWEN_SECRET}"
ROUTED = (
    "llm.provider=openai",
    "llm.model=deepseek-chat",
    "llm.base_url=https://api.deepseek.com",
    "llm.agents.planner.model=deepseek-reasoner",
    "llm.agents.planner.structured=json",
    "llm.agents.writer.model=qwen-plus",
    "llm.agents.writer.base_url=https://dashscope.aliyuncs.com/compatible-mode/v1",
    "llm.agents.writer.api_key_env=QWEN_KEY",
    "llm.agents.editor.provider=anthropic",
    "llm.agents.editor.model=claude-haiku-4-5",
)
KEYS = {"OPENAI_API_KEY": API_KEY, "QWEN_KEY": QWEN_KEY, "ANTHROPIC_API_KEY": "sk-ant-x"}


def test_each_agent_gets_its_providers_client(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path), ROUTED)
    client = make_client(config, environ=KEYS)

    assert isinstance(client, RoutedClient)
    planner, writer, editor = (client.client_for(a) for a in ("planner", "writer", "editor"))
    assert isinstance(planner, OpenAIClient)
    assert planner.settings.base_url == "https://api.deepseek.com"
    assert planner.settings.structured == "json"
    assert isinstance(writer, OpenAIClient)
    assert writer.settings.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert writer.settings.structured == "tools"
    assert isinstance(editor, AnthropicClient)
    assert len({id(planner.limiter), id(writer.limiter), id(editor.limiter)}) == 3
    assert config.llm.model_for("planner") == "deepseek-reasoner"
    assert config.llm.model_for("editor") == "claude-haiku-4-5"
    assert SECRET not in repr(client)
    assert QWEN_SECRET not in repr(client)


def test_agents_on_the_same_server_share_one_client(tmp_path: Path) -> None:
    sets = (
        "llm.provider=openai",
        "llm.model=deepseek-chat",
        "llm.base_url=https://api.deepseek.com",
    )
    config = load_config(
        write_project(tmp_path), (*sets, "llm.agents.planner.model=deepseek-reasoner")
    )
    client = make_client(config, environ=KEYS)
    assert isinstance(client, RoutedClient)
    assert client.client_for("planner") is client.client_for("writer")
    assert client.client_for("writer") is client.client_for("editor")


def test_a_route_to_the_offline_model(tmp_path: Path) -> None:
    sets = (
        "llm.provider=openai",
        "llm.model=deepseek-chat",
        "llm.base_url=https://api.deepseek.com",
    )
    config = load_config(write_project(tmp_path), (*sets, "llm.agents.editor.provider=offline"))
    client = make_client(config, environ=KEYS)
    assert isinstance(client, RoutedClient)
    assert isinstance(client.client_for("editor"), OfflineClient)
    assert config.llm.model_for("editor") == "offline"


def test_another_provider_needs_its_own_model_and_key(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(
            project, ("llm.provider=openai", "llm.model=x", "llm.agents.editor.provider=anthropic")
        )
    assert "llm.agents.editor.model: required when the agent's provider (anthropic)" in str(
        caught.value
    )
    config = load_config(project, ROUTED)
    with pytest.raises(ConfigError) as missing:
        make_client(config, "novel.yaml", environ={**KEYS, "QWEN_KEY": ""})
    assert "llm.agents.writer.api_key_env: is openai, but QWEN_KEY is not set" in str(missing.value)


def test_a_routed_novel_sums_costs_per_provider_and_model(
    start_fake: StartFake, tmp_path: Path
) -> None:
    deepseek, qwen = start_fake(prefix=""), start_fake()
    env = cli_env(OPENAI_API_KEY=API_KEY, QWEN_KEY=QWEN_KEY)
    run = run_on_fake(
        tmp_path,
        deepseek,
        "project.chapters=3",
        "llm.agents.planner.model=deepseek-reasoner",
        "llm.agents.planner.structured=json",
        "llm.agents.writer.model=qwen-plus",
        f"llm.agents.writer.base_url={qwen.url}",
        "llm.agents.writer.api_key_env=QWEN_KEY",
        "llm.agents.editor.provider=offline",
        env=env,
    )

    assert run.proc.returncode == 0, run.proc.stderr
    # The extractor has no route of its own: it reads with llm.model, on llm's server.
    assert [(r.agent, r.body["model"], r.mode) for r in deepseek.requests] == [
        ("planner", "deepseek-reasoner", "json"),
        *[("extractor", MODEL, "tools")] * 3,
    ]
    assert {(r.agent, r.body["model"], r.mode) for r in qwen.requests} == {
        ("writer", "qwen-plus", "text")
    }
    assert len(qwen.requests) == 3
    assert {r.api_key for r in deepseek.requests} == {API_KEY}
    assert {r.api_key for r in qwen.requests} == {QWEN_KEY}

    review = run.read_json("review.json")
    rows = {(r["provider"], r["model"]): r for r in review["llm"]["by_provider"]}
    deepseek_host = deepseek.url.removeprefix("http://")
    qwen_host = qwen.url.removeprefix("http://").removesuffix("/v1")
    assert set(rows) == {
        (f"openai:{deepseek_host}", "deepseek-reasoner"),
        (f"openai:{deepseek_host}", MODEL),
        (f"openai:{qwen_host}", "qwen-plus"),
        ("offline", "offline"),
    }
    assert rows[(f"openai:{qwen_host}", "qwen-plus")]["calls"] == 3
    assert rows[("offline", "offline")]["cost_usd"] == 0
    assert sum(r["cost_usd"] for r in rows.values()) == pytest.approx(
        run.summary["usage"]["cost_usd"], abs=1e-5
    )  # each row rounded to a millionth of a dollar
    assert files_holding(run.folder, SECRET) == []
    assert files_holding(run.folder, QWEN_SECRET) == []


def test_a_mixed_novel_planner_on_claude_writers_on_deepseek(
    start_fake: StartFake, tmp_path: Path
) -> None:
    from tests.fake_anthropic import FakeAnthropic

    claude = FakeAnthropic().start()
    deepseek = start_fake(prefix="")
    env = cli_env(OPENAI_API_KEY=API_KEY, ANTHROPIC_API_KEY=ANTHROPIC_KEY)
    try:
        run = run_on_fake(
            tmp_path,
            deepseek,
            "project.chapters=3",
            "orchestrator.html_report=true",
            "llm.agents.planner.provider=anthropic",
            "llm.agents.planner.model=claude-sonnet-4-5",
            f"llm.agents.planner.base_url={claude.url}",
            env=env,
        )
    finally:
        claude.stop()

    assert run.proc.returncode == 0, run.proc.stderr
    assert [(r.agent, r.body["model"]) for r in claude.requests] == [
        ("planner", "claude-sonnet-4-5")
    ]
    assert {r.api_key for r in claude.requests} == {ANTHROPIC_KEY}
    assert {r.agent for r in deepseek.requests} == {"writer", "extractor", "editor"}
    review = run.read_json("review.json")
    rows = {(r["provider"], r["model"]): r for r in review["llm"]["by_provider"]}
    deepseek_host = deepseek.url.removeprefix("http://")
    assert set(rows) == {
        ("anthropic", "claude-sonnet-4-5"),
        (f"openai:{deepseek_host}", "deepseek-chat"),
    }
    assert rows[("anthropic", "claude-sonnet-4-5")]["cost_usd"] > 0
    assert rows[(f"openai:{deepseek_host}", "deepseek-chat")]["cost_usd"] > 0
    assert sum(r["cost_usd"] for r in rows.values()) == pytest.approx(
        run.summary["usage"]["cost_usd"], abs=1e-5
    )
    report = (run.folder / "report.html").read_text(encoding="utf-8")
    assert "claude-sonnet-4-5 (anthropic)" in report
    assert f"deepseek-chat (openai:{deepseek_host})" in report
    assert files_holding(run.folder, SECRET) == []
    assert files_holding(run.folder, ANTHROPIC_SECRET) == []
