"""``orchestrator models check`` against the fake OpenAI-compatible server, through the real
SDK: what works is said before anything is spent, one line an agent."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import cli_env, orchestrator, write_project
from tests.fake_anthropic.faults import Fault
from tests.fake_openai import Rule
from tests.openai.conftest import API_KEY, MODEL, RUN_SETS, SECRET, StartFake, openai_env


def _check(base: Path, url: str, *sets: str, env: dict[str, str] | None = None) -> list[str]:
    config = write_project(base)
    args: list[str | Path] = ["models", "check", config]
    for override in (*RUN_SETS, f"llm.base_url={url}", *sets):
        args += ["--set", override]
    proc = orchestrator(*args, cwd=base, env=env or openai_env())
    return [str(proc.returncode), *proc.stdout.splitlines(), *proc.stderr.splitlines()]


def test_every_agent_answers_with_one_request_for_a_shared_model(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    code, *lines = _check(tmp_path, fake.url)
    assert code == "0", lines
    assert [line.split()[:2] for line in lines] == [
        ["ok", "planner"],
        ["ok", "writer"],
        ["ok", "extractor"],
        ["ok", "summarizer"],
        ["ok", "editor"],
    ]
    host = fake.url.split("://", 1)[1].split("/", 1)[0]
    assert all(f"openai:{host} {MODEL}" in line for line in lines), lines
    assert "structured replies by tools work" in lines[0]
    assert len(fake.requests) == 1  # the agents share the client and the model


def test_json_mode_and_a_routed_planner_are_each_checked(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    code, *lines = _check(
        tmp_path, fake.url, "llm.structured=json", "llm.agents.planner.model=deepseek-reasoner"
    )
    assert code == "0", lines
    assert "deepseek-reasoner" in lines[0]
    assert "structured replies by json work" in lines[1]
    assert {r.mode for r in fake.requests} == {"json"}
    assert sorted(r.body["model"] for r in fake.requests) == ["deepseek-chat", "deepseek-reasoner"]


def test_a_model_the_server_does_not_serve_fails_the_check(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    code, *lines = _check(tmp_path, fake.url, "llm.model=no-such-model")
    assert code == "1"
    assert lines[0].startswith("FAIL planner")
    assert "does not exist" in lines[0]


def test_a_rejected_key_fails_the_check_and_is_never_printed(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake(Rule([Fault("auth")] * 3))
    code, *lines = _check(tmp_path, fake.url)
    assert code == "1"
    assert lines[0].startswith("FAIL planner")
    assert all(SECRET not in line for line in lines)
    assert {r.api_key for r in fake.requests} == {API_KEY}


def test_a_remote_server_without_a_key_is_a_config_error(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("OPENAI_API_KEY", None)
    code, *lines = _check(tmp_path, "https://api.deepseek.com", env=env)
    assert code == "2"
    assert "OPENAI_API_KEY" in "\n".join(lines)
