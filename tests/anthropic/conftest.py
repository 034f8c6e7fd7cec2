"""Fixtures for the Anthropic client: the fake Messages API, a client on it, runs through it.

The fake server runs in the test process (a thread on 127.0.0.1); runs of
``orchestrator run`` are real subprocesses that reach it through the real SDK,
with an API key that tests then look for everywhere it must not be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from agents.clients.anthropic import AnthropicClient, AnthropicSettings
from agents.clients.pricing import load_prices
from agents.clients.rate_limiter import RateLimiter
from agents.clients.settings import RetrySettings
from tests.e2e.conftest import Run, cli_env, run_in, write_project
from tests.fake_anthropic import FakeAnthropic, Rule

SECRET = "SeCrEt-7f3a9"
API_KEY = f"sk-ant-test-{SECRET}"
MODEL = "claude-sonnet-4-6"
# Short waits, so scripted faults cost milliseconds; a generous read timeout that a
# "slow" fault (FAULT_SLOW_S) is well past.
FAST_RETRY = RetrySettings(max_attempts=6, initial_wait_s=0.02, max_wait_s=0.1, max_total_wait_s=5)
TIMEOUT_S = 2.0
FAULT_SLOW_S = 4.0
RUN_SETS = (
    "llm.provider=anthropic",
    f"llm.model={MODEL}",
    "llm.retry.initial_wait_s=0.02",
    "llm.retry.max_wait_s=0.1",
    "llm.retry.max_total_wait_s=5",
    f"llm.timeout_s={TIMEOUT_S}",
    "project.target_words=200",
)

StartFake = Callable[..., FakeAnthropic]


@pytest.fixture
def start_fake() -> Iterator[StartFake]:
    """``start_fake(*rules)``: a fake Messages API with those fault rules, stopped after."""
    started: list[FakeAnthropic] = []

    def start(*rules: Rule) -> FakeAnthropic:
        fake = FakeAnthropic(rules=list(rules)).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


MakeClient = Callable[..., AnthropicClient]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``make_client(fake, **settings)``: the real client on the fake, closed after the test."""
    clients: list[AnthropicClient] = []

    def make(
        fake: FakeAnthropic, limiter: RateLimiter | None = None, **changes: object
    ) -> AnthropicClient:
        options: dict[str, object] = {
            "base_url": fake.url,
            "timeout_s": TIMEOUT_S,
            "retry": FAST_RETRY,
            **changes,
        }
        client = AnthropicClient(
            api_key=API_KEY,
            settings=AnthropicSettings(**options),  # type: ignore[arg-type]
            prices=load_prices(),
            limiter=limiter,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def anthropic_env(fake: FakeAnthropic | None = None, **extra: str) -> dict[str, str]:
    """A CLI environment with the test key (and the fake's URL as ANTHROPIC_BASE_URL)."""
    env = cli_env(ANTHROPIC_API_KEY=API_KEY, **extra)
    env.pop("ANTHROPIC_BASE_URL", None)
    if fake is not None:
        env["ANTHROPIC_BASE_URL"] = fake.url
    return env


def run_on_fake(
    base: Path,
    fake: FakeAnthropic,
    *sets: str,
    run_dir: str = "run",
    flags: tuple[str, ...] = (),
) -> Run:
    """``orchestrator run`` of the example project (small) against ``fake``."""
    config = base / "config.yaml"
    if not config.exists():
        write_project(base)
    env = anthropic_env(fake)
    return run_in(base, config, *RUN_SETS, *sets, run_dir=run_dir, flags=flags, env=env)


def files_holding(folder: Path, needle: str) -> list[str]:
    """Every file under ``folder`` whose bytes contain ``needle``."""
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]
