"""``orchestrator estimate``: the example priced with a real model's prices and caching rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agents.clients.pricing import load_prices
from tests.e2e.conftest import EXAMPLE, cli_env, orchestrator, write_project

MODEL = "claude-sonnet-4-6"


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """(the project's folder with the example in it, an empty temp folder for the run)."""
    home, scratch = tmp_path / "project", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    write_project(home)
    return home, scratch


def test_the_example_is_priced_per_agent_with_its_assumptions_and_leaves_nothing(
    project: tuple[Path, Path],
) -> None:
    home, scratch = project
    before = files_under(home)
    proc = orchestrator(
        "estimate", "config.yaml", "--model", MODEL, cwd=home, env=cli_env(TMPDIR=str(scratch))
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for agent in ("planner", "writer", "editor", "book"):
        assert f"\n{agent} " in out
    assert MODEL in out
    assert "per 10,000 words" in out
    assert "assumes:" in out
    assert "characters a token" in out
    assert "target length" in out
    # The example's prefixes are under Sonnet 4.6's 2,048 tokens: said, with the figures.
    assert "under the model's minimum of 2,048" in out
    assert files_under(home) == before
    assert list(scratch.iterdir()) == []


def test_json_sums_the_agents_and_bounds_the_wall_time_by_the_limits(
    project: tuple[Path, Path],
) -> None:
    home, scratch = project
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    config["llm"]["rate_limits"] = {
        "requests_per_minute": 50,
        "input_tokens_per_minute": 30_000,
        "output_tokens_per_minute": 8_000,
    }
    write_project(home, yaml.safe_dump(config, allow_unicode=True))
    proc = orchestrator(
        "estimate", "config.yaml", "--model", "claude-sonnet-4-5", "--json",
        cwd=home, env=cli_env(TMPDIR=str(scratch)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    agents = {row["agent"]: row for row in result["agents"]}
    assert set(agents) >= {"planner", "writer", "editor"}
    assert result["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in agents.values()), 1e-4)
    price = load_prices().require("claude-sonnet-4-5")
    writer = agents["writer"]["usage"]
    assert writer["cache_write_tokens"] > 0  # over Sonnet 4.5's 1,024: cached
    assert (
        writer["cache_read_tokens"]
        == (agents["writer"]["calls"] - 1) * writer["cache_write_tokens"]
    )
    tokens = sum(writer[k] * getattr(price, k.removesuffix("_tokens")) for k in writer)
    assert agents["writer"]["cost_usd"] == pytest.approx(tokens / 1e6, 1e-4)
    output = result["usage"]["output_tokens"]
    assert result["limits_bound_s"] == pytest.approx(output / 8_000 * 60, 1e-3)
    assert result["assumptions"]


def test_a_model_without_a_price_is_a_clear_error(project: tuple[Path, Path]) -> None:
    home, scratch = project
    before = files_under(home)
    proc = orchestrator(
        "estimate", "config.yaml", "--model", "claude-nonesuch-9", cwd=home,
        env=cli_env(TMPDIR=str(scratch)),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--model" in proc.stderr
    assert "no price for 'claude-nonesuch-9'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert files_under(home) == before


def test_a_project_written_only_by_joined_workers_is_estimated_too(
    project: tuple[Path, Path],
) -> None:
    home, scratch = project
    proc = orchestrator(
        "estimate", "config.yaml", "--model", MODEL, "--json", cwd=home,
        env=cli_env(TMPDIR=str(scratch)),
    )  # fmt: skip
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    config["orchestrator"]["workers"] = 0
    write_project(home, yaml.safe_dump(config, allow_unicode=True))
    joined = orchestrator(
        "estimate", "config.yaml", "--model", MODEL, "--json", cwd=home,
        env=cli_env(TMPDIR=str(scratch)),
    )  # fmt: skip
    assert proc.returncode == joined.returncode == 0, joined.stderr
    assert json.loads(joined.stdout)["chapters"] == json.loads(proc.stdout)["chapters"]
