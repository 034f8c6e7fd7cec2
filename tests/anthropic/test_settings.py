"""From the project file to the client: base URL, retries, limits, prices, the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.clients.anthropic import AnthropicClient
from orchestrator.project.clients import anthropic_settings, make_client
from orchestrator.project.load import load_config
from orchestrator.project.problems import ConfigError
from tests.anthropic.conftest import API_KEY, MODEL, SECRET
from tests.e2e.conftest import write_project

ANTHROPIC = ("llm.provider=anthropic", f"llm.model={MODEL}")


def test_the_config_sets_retries_limits_and_timeouts(tmp_path: Path) -> None:
    sets = [
        *ANTHROPIC,
        "llm.retry.max_attempts=3",
        "llm.retry.max_total_wait_s=42",
        "llm.rate_limits.requests_per_minute=50",
        "llm.timeout_s=90",
        "llm.concurrency=7",
        "llm.cache_ttl=1h",
    ]
    config = load_config(write_project(tmp_path), sets)
    client = make_client(config, environ={"ANTHROPIC_API_KEY": API_KEY})

    assert isinstance(client, AnthropicClient)
    assert client.settings.retry.max_attempts == 3
    assert client.settings.retry.max_total_wait_s == 42
    assert client.settings.timeout_s == 90
    assert client.settings.concurrency == 7
    assert client.settings.cache_ttl == client.caching.ttl == "1h"
    assert client.limiter.bucket("requests").per_minute == 50
    assert client.limiter.bucket("input-tokens").per_minute is None
    assert SECRET not in repr(client)


def test_a_cache_ttl_other_than_5m_or_1h_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cache_ttl"):
        load_config(write_project(tmp_path), [*ANTHROPIC, "llm.cache_ttl=2h"])


def test_the_base_url_comes_from_the_config_else_the_environment(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    from_env = load_config(project, ANTHROPIC).llm
    assert anthropic_settings(from_env, env).base_url == "http://127.0.0.1:9"
    given = load_config(project, [*ANTHROPIC, "llm.base_url=http://127.0.0.1:8"]).llm
    assert anthropic_settings(given, env).base_url == "http://127.0.0.1:8"
    assert anthropic_settings(from_env, {}).base_url is None  # the SDK's default


def test_no_key_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path), ANTHROPIC)
    with pytest.raises(ConfigError) as caught:
        make_client(config, "novel.yaml", environ={"ANTHROPIC_API_KEY": "  "})
    assert str(caught.value).startswith("novel.yaml: llm.provider: is anthropic, but")
    assert "ANTHROPIC_API_KEY is not set" in str(caught.value)


def test_a_relative_price_table_is_found_beside_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text(
        f"models:\n  {MODEL}: {{input: 1, output: 2, cache_write: 1, cache_read: 0.1}}\n",
        encoding="utf-8",
    )
    config = load_config(write_project(tmp_path), [*ANTHROPIC, "llm.prices=prices.yaml"])
    assert config.llm.prices == str(tmp_path / "prices.yaml")
    client = make_client(config, environ={"ANTHROPIC_API_KEY": API_KEY})
    assert isinstance(client, AnthropicClient)
    assert client.prices.require(MODEL).output == 2


def test_the_offline_model_stays_the_default(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path))
    assert config.llm.provider == "offline"
    assert not isinstance(make_client(config, environ={}), AnthropicClient)
