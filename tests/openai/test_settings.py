"""From the project file to the OpenAI-compatible client: base URL, key, mode, prices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.clients.openai import OpenAIClient
from orchestrator.project.clients import is_local, make_client, openai_settings
from orchestrator.project.load import load_config
from orchestrator.project.problems import ConfigError
from tests.e2e.conftest import cli_env, write_project
from tests.openai.conftest import API_KEY, SECRET

LOCAL = ("llm.provider=openai", "llm.model=qwen2.5:7b", "llm.base_url=http://localhost:11434/v1")
DEEPSEEK = (
    "llm.provider=openai",
    "llm.model=deepseek-chat",
    "llm.base_url=https://api.deepseek.com",
)


def test_the_config_sets_the_client(tmp_path: Path) -> None:
    sets = [
        *DEEPSEEK,
        "llm.structured=json",
        "llm.retry.max_attempts=3",
        "llm.rate_limits.requests_per_minute=50",
        "llm.timeout_s=90",
        "llm.concurrency=7",
    ]
    config = load_config(write_project(tmp_path), sets)
    client = make_client(config, environ={"OPENAI_API_KEY": API_KEY})

    assert isinstance(client, OpenAIClient)
    assert client.settings.base_url == "https://api.deepseek.com"  # exactly as given
    assert client.settings.structured == "json"
    assert client.settings.retry.max_attempts == 3
    assert client.settings.timeout_s == 90
    assert client.settings.concurrency == 7
    assert client.limiter.bucket("requests").per_minute == 50
    assert SECRET not in repr(client)


def test_the_key_comes_from_the_variable_the_config_names(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path), [*DEEPSEEK, "llm.api_key_env=DEEPSEEK_KEY"])
    assert isinstance(make_client(config, environ={"DEEPSEEK_KEY": API_KEY}), OpenAIClient)
    with pytest.raises(ConfigError) as caught:
        make_client(config, "novel.yaml", environ={"OPENAI_API_KEY": API_KEY})
    assert "novel.yaml: llm.api_key_env: is openai, but DEEPSEEK_KEY is not set" in str(
        caught.value
    )


def test_a_key_variable_must_be_a_variable_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_project(tmp_path), [*DEEPSEEK, "llm.api_key_env=sk-abc123"])
    assert "llm.api_key_env" in str(caught.value)


def test_the_model_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_project(tmp_path), ["llm.provider=openai"])
    assert "required when provider is openai" in str(caught.value)


def test_the_base_url_comes_from_the_config_else_the_environment(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    llm = load_config(project, ["llm.provider=openai", "llm.model=gpt-x"]).llm
    assert openai_settings(llm, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}).base_url == (
        "http://127.0.0.1:9/v1"
    )
    assert openai_settings(llm, {}).base_url is None  # the SDK's default: OpenAI's API


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:11434/v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://[::1]:8080/v1", True),
        ("https://api.deepseek.com", False),
        ("http://localhost.example.com/v1", False),
        (None, False),
    ],
)
def test_what_is_a_local_server(url: str | None, local: bool) -> None:
    assert is_local(url) is local


def test_a_local_model_without_a_price_costs_nothing(tmp_path: Path) -> None:
    sets = [
        "llm.provider=openai",
        "llm.model=llama3.1:8b",
        "llm.base_url=http://localhost:11434/v1",
    ]
    config = load_config(write_project(tmp_path), sets)
    client = make_client(config, environ={})
    assert isinstance(client, OpenAIClient)
    assert client.prices.require("llama3.1:8b").input == 0


def test_a_remote_model_without_a_price_is_refused(tmp_path: Path) -> None:
    sets = ["llm.provider=openai", "llm.model=some-new-model", "llm.base_url=https://x.example/v1"]
    config = load_config(write_project(tmp_path), sets)
    with pytest.raises(ConfigError) as caught:
        make_client(config, environ={"OPENAI_API_KEY": API_KEY})
    assert "no price for model 'some-new-model'" in str(caught.value)


def test_the_sdk_is_imported_only_by_a_run_that_calls_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from orchestrator.cli.main import main\n"
        "from orchestrator.project.clients import make_client\n"
        "from orchestrator.project.load import load_config\n"
        f"config = load_config({str(write_project(tmp_path))!r})\n"
        "make_client(config, environ={})\n"
        "print('openai' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env()
    )
    assert proc.stdout.strip() == "False"  # the CLI and an offline client: no SDK loaded


def test_an_openai_run_does_not_import_the_anthropic_sdk(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from orchestrator.project.clients import make_client\n"
        "from orchestrator.project.load import load_config\n"
        f"config = load_config({str(write_project(tmp_path))!r}, {list(LOCAL)!r})\n"
        "make_client(config, environ={})\n"
        "print('openai' in sys.modules, 'anthropic' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env()
    )
    assert proc.stdout.split() == ["True", "False"]
