"""Whole novels through ``orchestrator run``, the real SDK and the fake Messages API.

One run meets every scripted fault and must still write every chapter; the
others check what fails a chapter (and only that chapter), the budget stop,
and the missing key. No run may leave the API key anywhere.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.clients.base import Usage
from agents.clients.pricing import load_prices
from state import open_state
from tests.anthropic.conftest import (
    API_KEY,
    FAULT_SLOW_S,
    MODEL,
    RUN_SETS,
    SECRET,
    StartFake,
    anthropic_env,
    files_holding,
    run_on_fake,
)
from tests.e2e.conftest import Run, orchestrator, write_project
from tests.fake_anthropic import FakeAnthropic, Fault, Rule

CHAPTERS = 6
# chapter -> the faults its writer requests meet, in turn
WRITER_FAULTS: dict[int, list[Fault]] = {
    1: [Fault("rate_limit", retry_after=0.3)] * 3,  # a burst of 429s
    2: [Fault("overloaded")],
    3: [Fault("server_error"), Fault("drop_stream")],
    4: [Fault("slow", delay_s=FAULT_SLOW_S)],
    5: [Fault("drop"), Fault("cut")],  # the prose cut at max_tokens: continued
    6: [Fault("short")],  # four words, as if finished: continued to length
}
# chapter -> the faults its extractor requests meet
EXTRACTOR_FAULTS: dict[int, list[Fault]] = {
    6: [Fault("invalid")],  # sent back once with the validation errors
}
RETRIED = {
    "rate_limit",
    "overloaded",
    "server_error",
    "drop_stream",
    "slow",
    "drop",
    "stream_error",
}


def log_events(run: Run, event: str) -> list[dict[str, Any]]:
    lines = (run.folder / "logs" / "run.jsonl").read_text(encoding="utf-8").splitlines()
    return [entry for line in lines if (entry := json.loads(line)).get("event") == event]


def fake_usage(fake: FakeAnthropic) -> Usage:
    """What the fake's replies said they used, summed (replies the client got whole)."""
    total = Usage()
    for request in fake.requests:
        if request.usage is not None:
            total = total + Usage(
                input_tokens=request.usage.input_tokens,
                output_tokens=request.usage.output_tokens,
                cache_write_tokens=request.usage.cache_creation_input_tokens,
                cache_read_tokens=request.usage.cache_read_input_tokens,
            )
    return total


@pytest.fixture(scope="module")
def stormy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, FakeAnthropic]:
    """A six-chapter novel whose every request meets a scripted fault first."""
    rules = [
        Rule([Fault("stream_error")], agent="planner"),
        *(Rule(faults, agent="writer", chapter=n) for n, faults in WRITER_FAULTS.items()),
        *(Rule(faults, agent="extractor", chapter=n) for n, faults in EXTRACTOR_FAULTS.items()),
        Rule([Fault("overloaded")], agent="editor"),
    ]
    fake = FakeAnthropic(rules=rules).start()
    try:
        run = run_on_fake(tmp_path_factory.mktemp("stormy"), fake, f"project.chapters={CHAPTERS}")
    finally:
        fake.stop()
    return run, fake


def test_every_chapter_is_written_through_the_faults(stormy: tuple[Run, FakeAnthropic]) -> None:
    run, _ = stormy
    assert run.proc.returncode == 0, run.proc.stderr
    summary = run.summary
    assert summary["written"] == CHAPTERS
    assert summary["failed"] == []
    assert all((run.folder / "chapters" / f"{n:03d}.md").exists() for n in range(1, 7))
    assert "Chapter 6:" in (run.folder / "manuscript.md").read_text(encoding="utf-8")


def test_each_request_met_its_faults_and_then_a_good_reply(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    _, fake = stormy
    for chapter, faults in WRITER_FAULTS.items():
        seen = [r.fault for r in fake.of("writer", chapter)]
        assert seen == [f.kind for f in faults] + [None], chapter
    for chapter, faults in EXTRACTOR_FAULTS.items():
        seen = [r.fault for r in fake.of("extractor", chapter)]
        assert seen == [f.kind for f in faults] + [None], chapter
    assert [r.fault for r in fake.of("planner")] == ["stream_error", None]
    assert [r.fault for r in fake.of("editor")] == ["overloaded", None]


def test_every_retry_is_logged_with_its_reason_and_wait(stormy: tuple[Run, FakeAnthropic]) -> None:
    run, fake = stormy
    retries = log_events(run, "model_call_retry")
    faults = [r for r in fake.requests if r.fault in RETRIED]
    assert len(retries) == len(faults) == 10
    by_chapter = Counter(r["chapter"] for r in retries if r["agent"] == "writer")
    assert by_chapter == {1: 3, 2: 1, 3: 2, 4: 1, 5: 1}
    reasons = [r["reason"] for r in retries if r["chapter"] == 3]
    assert reasons == ["500 api_error", "connection error"]
    [slow] = [r for r in retries if r["chapter"] == 4]
    assert slow["reason"] == "timeout"
    for retry in (r for r in retries if r["chapter"] == 1):
        assert retry["reason"] == "429 rate_limit_error"
        assert retry["wait_s"] == retry["retry_after"] == 0.3
    assert all(r["level"] == "warning" and r["error"] for r in retries)


def test_the_summary_counts_the_retries_by_reason_with_the_time_waited(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    run, _ = stormy
    logged = log_events(run, "model_call_retry")
    expected: dict[str, list[float]] = {}
    for retry in logged:
        expected.setdefault(retry["reason"], []).append(retry["wait_s"])
    counted = run.summary["retries_and_errors"]
    assert {r["reason"]: r["count"] for r in counted["retries"]} == {
        reason: len(waits) for reason, waits in expected.items()
    }
    for row in counted["retries"]:
        assert row["waited_s"] == pytest.approx(sum(expected[row["reason"]]), abs=1e-3)
    assert counted["retries"][0] == {"reason": "429 rate_limit_error", "count": 3, "waited_s": 0.9}
    assert counted["errors"] == []  # every call got its reply in the end
    waited = sum(r["wait_s"] for r in logged)
    assert "retries 10 (429 rate_limit_error ×3, " in run.proc.stdout
    assert f"waited {waited:.1f} s; no errors" in run.proc.stdout
    report = (run.folder / "report.html").read_text(encoding="utf-8")
    assert "Retries and errors" in report
    assert "429 rate_limit_error" in report


def test_a_paid_run_without_a_budget_says_so_as_it_starts(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    run, _ = stormy
    [line] = [x for x in run.proc.stderr.splitlines() if x.startswith("no budget")]
    assert line.startswith(f"no budget (llm.budget_usd is not set): {CHAPTERS} chapters at about $")
    assert line.endswith(f"orchestrator estimate {run.folder.parent / 'config.yaml'}")


def test_the_429_burst_was_waited_out(stormy: tuple[Run, FakeAnthropic]) -> None:
    _, fake = stormy
    arrivals = [r.at for r in fake.of("writer", 1)]
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(arrivals))


def test_an_invalid_reply_was_sent_back_once_with_the_errors(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    _, fake = stormy
    first, second = fake.of("extractor", 6)
    assert len(first.body["messages"]) == 1
    user, assistant, feedback = second.body["messages"]
    assert user == first.body["messages"][0]
    assert assistant["role"] == "assistant"
    assert '"summary"' not in assistant["content"]  # what the model sent, without a summary
    assert feedback["role"] == "user"
    assert "summary: Field required" in feedback["content"]
    assert "tools" in first.body  # the report is structured...
    assert all("tools" not in r.body for r in fake.of("writer"))  # ...the prose never is


def test_a_short_or_cut_chapter_was_continued_to_length(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    run, fake = stormy
    target = yaml.safe_load((run.folder / "config.yaml").read_text())["project"]["target_words"]
    short, continued = fake.of("writer", 6)
    cut, carried_on = fake.of("writer", 5)[1:]
    for first, second, said in (
        (short, continued, "The chapter so far is 4 words long"),
        (cut, carried_on, "cut off at the length limit"),
    ):
        user, assistant, ask = second.body["messages"]
        assert user == first.body["messages"][0]
        assert assistant["role"] == "assistant"
        assert assistant["content"]
        assert said in ask["content"]
    text = (run.folder / "chapters" / "006.md").read_text(encoding="utf-8")
    assert text.count("The fog. Then nothing.") == 1  # kept, and carried on after it
    records = {o["chapter"]: o for o in run.summary["chapter_outcomes"]}
    for chapter in (5, 6):
        assert records[chapter]["words"] >= 0.8 * target, chapter
        assert records[chapter]["continuations"] == 1, chapter


def test_a_bible_under_the_models_minimum_is_sent_unmarked_and_said_once(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    run, fake = stormy
    writers = fake.of("writer")
    assert len(writers) == CHAPTERS + sum(len(f) for f in WRITER_FAULTS.values())
    bibles = set()
    for request in writers:
        instructions, bible = request.body["system"]
        assert "cache_control" not in bible  # the example's prefix is under 2,048 tokens
        assert "cache_control" not in instructions
        assert bible["text"].startswith("# Story bible")
        bibles.add(bible["text"])
    assert len(bibles) == 1
    warnings = log_events(run, "prompt_cache_too_short")
    assert Counter(w["agent"] for w in warnings)["writer"] == 1  # once, not per chapter
    for warning in warnings:
        assert warning["model"] == MODEL
        assert 0 < warning["prefix_tokens"] < warning["minimum_tokens"] == 2048
    assert "prompt_cache_too_short" in run.proc.stderr + run.proc.stdout
    usage = run.summary["usage"]
    assert usage["cache_write_tokens"] == usage["cache_read_tokens"] == 0


def test_usage_and_cost_are_summed_per_chapter_and_per_run(
    stormy: tuple[Run, FakeAnthropic],
) -> None:
    run, fake = stormy
    summary = run.summary
    usage = Usage.model_validate(summary["usage"])
    expected = fake_usage(fake)
    assert usage.input_tokens == expected.input_tokens
    assert usage.output_tokens == expected.output_tokens
    assert usage.cache_write_tokens == expected.cache_write_tokens
    assert usage.cache_read_tokens == expected.cache_read_tokens
    price = load_prices().require(MODEL)
    assert usage.cost_usd == pytest.approx(price.cost(expected))

    for outcome in summary["chapter_outcomes"]:
        chapter = Usage.model_validate(outcome["usage"])
        number = outcome["chapter"]
        requests = [r for r in fake.of("writer", number) + fake.of("extractor", number) if r.usage]
        assert chapter.output_tokens == sum(r.usage.output_tokens for r in requests if r.usage)
        assert chapter.cost_usd == pytest.approx(price.cost(chapter))

    calls = run.read_json("metrics.json")["llm"]["calls"]
    # planner, writers (two continued), extractors (one twice: the invalid reply), editor;
    # retries are inside a call
    assert len(calls) == summary["model_calls"] == 1 + (CHAPTERS + 2) + (CHAPTERS + 1) + 1
    assert sum(c["usage"]["cost_usd"] for c in calls) == pytest.approx(usage.cost_usd)
    assert f"cost ${usage.cost_usd:.4f}" in run.proc.stdout


def test_the_key_was_sent_and_is_nowhere_in_the_run(stormy: tuple[Run, FakeAnthropic]) -> None:
    run, fake = stormy
    assert {r.api_key for r in fake.requests} == {API_KEY}
    assert files_holding(run.folder, SECRET) == []
    assert SECRET not in run.proc.stdout + run.proc.stderr


def test_a_chapter_fails_with_the_apis_message_and_the_run_goes_on(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake(
        Rule([Fault("invalid"), Fault("invalid")], agent="extractor", chapter=2),
        Rule([Fault("bad_request")], agent="writer", chapter=3),
    )
    run = run_on_fake(tmp_path, fake, "project.chapters=4", flags=("--json",), run_dir="failing")

    assert run.proc.returncode == 1, run.proc.stderr
    summary = run.summary
    assert summary["failed"] == [2, 3]
    assert summary["written"] == 2
    errors = {o["chapter"]: o["error"] for o in summary["chapter_outcomes"]}
    assert "no valid reply after 2 attempts" in errors[2]
    assert "summary: Field required" in errors[2]
    assert "400 invalid_request_error: max_tokens: too large for this model" in errors[3]
    assert len(fake.of("extractor", 2)) == 2  # sent back once, then given up
    assert len(fake.of("writer", 3)) == 1  # a 400 is not retried
    assert files_holding(run.folder, SECRET) == []
    assert SECRET not in run.proc.stdout + run.proc.stderr


def test_the_budget_stops_new_chapters_and_the_summary_says_so(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    budget = 0.03
    run = run_on_fake(
        tmp_path,
        fake,
        f"project.chapters={CHAPTERS}",
        "orchestrator.mode=sequential",
        "orchestrator.context_tokens=1000",
        f"llm.budget_usd={budget}",
    )

    assert run.proc.returncode == 1, run.proc.stderr
    summary = run.summary
    report = summary["budget"]
    assert report["stopped"] is True
    stopped = report["not_started"]
    written = [o["chapter"] for o in summary["chapter_outcomes"] if o["status"] != "failed"]
    assert written == list(range(1, len(written) + 1))
    assert stopped == list(range(len(written) + 1, CHAPTERS + 1))
    assert 1 <= len(written) < CHAPTERS
    assert summary["failed"] == stopped
    for outcome in summary["chapter_outcomes"]:
        if outcome["chapter"] in stopped:
            assert outcome["error"].startswith("not started: the budget of $0.0300")
            assert outcome["attempts"] == 0
            assert fake.of("writer", outcome["chapter"]) == []

    # The rule held: what was spent before the stop, plus one more chapter at the average
    # cost so far, passes the budget; without that chapter it did not.
    calls = run.read_json("metrics.json")["llm"]["calls"]
    before_review = sum(c["usage"]["cost_usd"] for c in calls if c["agent"] != "editor")
    per_chapter: Counter[int] = Counter()
    for call in calls:
        if call["agent"] in ("writer", "extractor"):
            per_chapter[call["chapter"]] += call["usage"]["cost_usd"]
    chapters = list(per_chapter.values())
    assert before_review <= budget  # here: no chapter cost more than the estimate it started on
    assert before_review + sum(chapters) / len(chapters) > budget
    assert report["spent_usd"] == pytest.approx(summary["usage"]["cost_usd"], abs=1e-6)
    listed = ", ".join(map(str, stopped))
    assert f"stopped before chapters {listed}" in run.proc.stdout
    assert "would be passed (spent $" in run.proc.stderr
    assert f"chapters {listed} not started" in run.proc.stderr


def test_no_key_is_a_clear_error_before_anything_is_written(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    env = anthropic_env()
    del env["ANTHROPIC_API_KEY"]
    args = ["run", config, "--run-dir", "nokey", "--set", "llm.provider=anthropic"]
    proc = orchestrator(*args, "--set", f"llm.model={MODEL}", cwd=tmp_path, env=env)

    assert proc.returncode == 2
    assert "llm.provider: is anthropic, but ANTHROPIC_API_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "nokey").exists()


def test_a_model_without_a_price_is_refused_at_start(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    args = ["run", config, "--run-dir", "noprice", "--set", "llm.provider=anthropic"]
    env = anthropic_env()
    proc = orchestrator(*args, "--set", "llm.model=claude-unpriced-1", cwd=tmp_path, env=env)

    assert proc.returncode == 2
    assert "llm.prices: price table" in proc.stderr
    assert "no price for model 'claude-unpriced-1'" in proc.stderr
    assert not (tmp_path / "noprice").exists()


def test_debug_logs_show_no_key(start_fake: StartFake, tmp_path: Path) -> None:
    fake = start_fake(Rule([Fault("bad_request")], agent="writer", chapter=1))
    config = write_project(tmp_path)
    sets = [arg for s in (*RUN_SETS, "project.chapters=2") for arg in ("--set", s)]
    args = ["--log-level", "debug", "run", config, "--run-dir", "debug", *sets]
    proc = orchestrator(*args, cwd=tmp_path, env=anthropic_env(fake))

    assert proc.returncode == 1, proc.stderr
    assert "Request options" in proc.stderr  # the SDK's own debug lines are there
    assert SECRET not in proc.stdout + proc.stderr
    assert files_holding(tmp_path / "debug", SECRET) == []


def test_a_writer_knows_the_whole_arc_and_how_the_chapter_before_ended(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    # Sonnet 4.5 caches from 1,024 tokens: the example's writer prefix is long enough.
    sets = ("project.chapters=4", "orchestrator.mode=sequential", "llm.model=claude-sonnet-4-5")
    run = run_on_fake(tmp_path, fake, *sets)
    assert run.proc.returncode == 0, run.proc.stderr

    outline = run.read_json("outline.json")
    titles = [chapter["title"] for chapter in outline["chapters"]]
    for request in fake.of("writer"):
        _, cached = request.body["system"]
        assert cached["cache_control"] == {"type": "ephemeral"}
        assert "## The whole book, chapter by chapter" in cached["text"]
        assert all(f"{title}: " in cached["text"] for title in titles)
    blocks = {request.body["system"][1]["text"] for request in fake.of("writer")}
    assert len(blocks) == 1  # one prefix for every writer: cached once, read after

    first, *later = (fake.of("writer", n)[0] for n in range(1, 5))
    assert "How chapter 0 ends" not in first.body["messages"][0]["content"]
    for number, request in enumerate(later, start=2):
        prompt = request.body["messages"][0]["content"]
        before = (run.folder / "chapters" / f"{number - 1:03d}.md").read_text(encoding="utf-8")
        last_paragraph = before.strip().split("\n\n")[-1]
        assert f"How chapter {number - 1} ends, word for word" in prompt
        assert last_paragraph in prompt


def test_a_chapter_still_short_after_its_continuations_is_a_finding_and_blocks_publishing(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake(Rule([Fault("short")] * 3, agent="writer", chapter=2))
    run = run_on_fake(
        tmp_path,
        fake,
        "project.chapters=3",
        "project.max_continuations=2",
        "publish.max_findings=5",
    )
    assert run.proc.returncode == 0, run.proc.stderr

    assert len(fake.of("writer", 2)) == 3  # the first reply, then two continuations
    [short] = [f for f in run.read_json("findings.json") if f["kind"] == "short_chapter"]
    assert short["chapter"] == 2
    assert "chapter 2 is 12 words long, under 80% of its target" in short["detail"]
    assert "after 2 continuations" in short["detail"]
    text = (run.folder / "chapters" / "002.md").read_text(encoding="utf-8")
    assert text.count("The fog. Then nothing.") == 3  # every reply kept, none thrown away

    proc = orchestrator(
        "publish",
        run.folder,
        "--approver",
        "Ana",
        "--note",
        "first",
        "--publish-dir",
        tmp_path / "pub",
        "--json",
        cwd=tmp_path,
        env=anthropic_env(fake),
    )
    assert proc.returncode == 1
    gate = {c["name"]: c for c in json.loads(proc.stdout)["gate"]}
    assert not gate["lengths"]["ok"]
    assert "chapters still short of their length: [2]" in gate["lengths"]["detail"]


def test_older_chapters_reach_later_writers_as_arcs_the_model_wrote_once(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    sets = ("project.chapters=14", "project.target_words=120", "orchestrator.mode=sequential")
    run = run_on_fake(tmp_path, fake, *sets)
    assert run.proc.returncode == 0, run.proc.stderr

    [arc] = fake.of("summarizer")  # chapters 1-10 are final: one arc, written once
    prompt = arc.body["messages"][0]["content"]
    assert "Summarize chapters 1 to 10 in one paragraph" in prompt
    assert "Chapter 10: Chapter 10: the search goes on in the fog." in prompt
    assert "tools" not in arc.body  # prose, not JSON
    written = "In chapters 1 to 10 the harbour search narrowed."
    last = fake.of("writer", 14)[0].body["messages"][0]["content"]
    assert f"Chapters 1–10: {written}" in last  # chapters 1-10 are older than the recent three
    assert written not in fake.of("writer", 11)[0].body["messages"][0]["content"]

    # Kept in the store with the attempts it summarized: a resumed run reads it back.
    async def stored() -> dict[str, Any] | None:
        async with open_state(run.url, create=False) as manager:
            return await manager.meta("arcs")

    arcs = asyncio.run(stored())
    assert arcs == {"1-10": {"text": written, "attempts": {str(n): 1 for n in range(1, 11)}}}
