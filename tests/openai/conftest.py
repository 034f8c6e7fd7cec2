"""Fixtures for the OpenAI-compatible client: the fake Chat Completions server, a client on
it, and runs of ``orchestrator run`` through it.

The fake server runs in the test process (a thread on 127.0.0.1); runs are real
subprocesses that reach it through the real ``openai`` SDK, with an API key that
tests then look for everywhere it must not be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from agents.clients.openai import OpenAIClient, OpenAISettings
from agents.clients.pricing import load_prices
from agents.clients.rate_limiter import RateLimiter
from agents.clients.settings import RetrySettings
from tests.e2e.conftest import Run, cli_env, run_in, write_project
from tests.fake_openai import FakeOpenAI, Rule

SECRET = "SeCrEt-5b1d0"
API_KEY = f"sk-test-{SECRET}"
MODEL = "deepseek-chat"
FAST_RETRY = RetrySettings(max_attempts=6, initial_wait_s=0.02, max_wait_s=0.1, max_total_wait_s=5)
TIMEOUT_S = 2.0
RUN_SETS = (
    "llm.provider=openai",
    f"llm.model={MODEL}",
    "llm.retry.initial_wait_s=0.02",
    "llm.retry.max_wait_s=0.1",
    "llm.retry.max_total_wait_s=5",
    f"llm.timeout_s={TIMEOUT_S}",
    "project.target_words=200",
    "orchestrator.html_report=false",
)

StartFake = Callable[..., FakeOpenAI]


@pytest.fixture
def start_fake() -> Iterator[StartFake]:
    """``start_fake(*rules, prefix=...)``: a fake server with those fault rules, stopped after."""
    started: list[FakeOpenAI] = []

    def start(*rules: Rule, prefix: str = "/v1") -> FakeOpenAI:
        fake = FakeOpenAI(rules=list(rules), prefix=prefix).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


MakeClient = Callable[..., OpenAIClient]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``make_client(fake, **settings)``: the real client on the fake, closed after the test."""
    clients: list[OpenAIClient] = []

    def make(
        fake: FakeOpenAI,
        limiter: RateLimiter | None = None,
        api_key: str | None = API_KEY,
        **changes: object,
    ) -> OpenAIClient:
        options: dict[str, object] = {
            "base_url": fake.url,
            "timeout_s": TIMEOUT_S,
            "retry": FAST_RETRY,
            **changes,
        }
        client = OpenAIClient(
            api_key=api_key,
            settings=OpenAISettings(**options),  # type: ignore[arg-type]
            prices=load_prices(),
            limiter=limiter,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def openai_env(**extra: str) -> dict[str, str]:
    """A CLI environment with the test key in OPENAI_API_KEY and no other OpenAI setting."""
    env = cli_env(OPENAI_API_KEY=API_KEY, **extra)
    env.pop("OPENAI_BASE_URL", None)
    return env


def run_on_fake(
    base: Path,
    fake: FakeOpenAI,
    *sets: str,
    run_dir: str = "run",
    flags: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    project: str | None = None,
) -> Run:
    """``orchestrator run`` of the example project (or ``project``), small, against ``fake``."""
    config = base / "config.yaml"
    if not config.exists():
        write_project(base, project)
    sets = (*RUN_SETS, f"llm.base_url={fake.url}", *sets)
    return run_in(base, config, *sets, run_dir=run_dir, flags=flags, env=env or openai_env())


def files_holding(folder: Path, needle: str) -> list[str]:
    """Every file under ``folder`` whose bytes contain ``needle``."""
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]
