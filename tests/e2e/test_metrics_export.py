"""``orchestrator metrics export`` and the review files a run writes at its end."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Run, drifted_run, orchestrator

WITH_HTML = "orchestrator.html_report=true"


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A drifted run (some chapters revised) that writes its HTML report."""
    return drifted_run(tmp_path_factory.mktemp("review"), WITH_HTML)


def export(run: Run, fmt: str) -> str:
    proc = orchestrator("metrics", "export", run.folder, "--format", fmt, cwd=run.folder)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def review(drift_run: Run) -> dict[str, Any]:
    return dict(json.loads(export(drift_run, "json")))


def test_the_run_wrote_its_review_and_report(drift_run: Run) -> None:
    assert json.loads((drift_run.folder / "review.json").read_text(encoding="utf-8"))
    manifest = drift_run.read_json("MANIFEST.json")
    listed = {f["path"] for f in manifest["files"]}
    assert {"review.json", "report.html"} <= listed
    assert drift_run.summary["paths"]["report"] == str(drift_run.folder / "report.html")


def test_json_has_everything(review: dict[str, Any], drift_run: Run) -> None:
    state = review["state"]
    apply = state["ops"]["apply"]
    assert {"p50_ms", "p95_ms", "p99_ms", "max_ms"} <= set(apply["lock_wait"])
    assert {"p50_ms", "p99_ms"} <= set(apply["hold"])
    buckets = state["buckets"]["apply"]
    assert buckets["lock_wait"] == sorted(buckets["lock_wait"])  # cumulative
    assert buckets["lock_wait"][-1] <= buckets["count"] == apply["lock_wait"]["count"]
    assert sum(row["ops"] for row in state["throughput_over_time"]) == sum(
        1 for op in state["operations"] if op[4] != "read"
    )
    assert state["threshold_events"] == []
    chapters = review["chapters"]
    assert [c["chapter"] for c in chapters] == list(range(1, drift_run.summary["chapters"] + 1))
    revised = [c for c in chapters if c["revisions"] > 0]
    assert revised
    assert all(c["attempts"] == c["revisions"] + 1 for c in chapters)
    for chapter in chapters:
        assert chapter["model_latency_s"] > 0
        assert chapter["output_tokens"] > 0
        assert "cache_read_tokens" in chapter
        assert chapter["cost_usd"] == 0.0  # the offline model is free (its price table)
    total_out = sum(c["usage"]["output_tokens"] for c in review["llm"]["calls"])
    assert total_out == review["llm"]["usage"]["output_tokens"]
    attempts = {(t["chapter"], t["attempt"]) for t in review["timeline"]}
    assert len(attempts) == sum(c["attempts"] for c in chapters)


def test_csv_has_one_row_per_operation_and_per_call(review: dict[str, Any], drift_run: Run) -> None:
    rows = list(csv.DictReader(io.StringIO(export(drift_run, "csv"))))
    kinds = [r["kind"] for r in rows]
    assert kinds.count("state_op") == len(review["state"]["operations"])
    assert kinds.count("model_call") == len(review["llm"]["calls"])
    times = [float(r["t_s"]) for r in rows if r["kind"] in ("state_op", "model_call")]
    assert times == sorted(times)
    applies = [r for r in rows if r["operation"] == "apply"]
    assert all(float(r["lock_wait_ms"]) >= 0 and r["outcome"] == "commit" for r in applies)


def test_prom_is_valid_exposition_text(review: dict[str, Any], drift_run: Run) -> None:
    families = {f.name: f for f in text_string_to_metric_families(export(drift_run, "prom"))}
    wait = families["orchestrator_state_lock_wait_seconds"]
    assert wait.type == "histogram"
    apply = [s for s in wait.samples if s.labels.get("op") == "apply"]
    buckets = [s.value for s in apply if s.name.endswith("_bucket")]
    assert buckets == sorted(buckets)
    count = next(s.value for s in apply if s.name.endswith("_count"))
    assert buckets[-1] == count == review["state"]["ops"]["apply"]["lock_wait"]["count"]
    assert families["orchestrator_state_operations"].type == "counter"
    assert families["orchestrator_llm_tokens"].type == "counter"
    assert families["orchestrator_state_throughput_ops_per_second"].type == "gauge"
    for family in families.values():
        assert all(s.labels["run_id"] == drift_run.folder.name for s in family.samples)


def test_html_is_one_self_contained_report(drift_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = orchestrator(
        "metrics", "export", drift_run.folder, "--format", "html", "--out", out, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 4  # lock wait, throughput, timeline, tokens
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch
    assert "<link" not in page
    assert "<script" not in page
    assert "P99 threshold 100 ms" in page
    assert "length score" in page
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page)
    assert headings == [
        "The book",
        "Continuity findings",
        "Writing",
        "Cost per agent and model",
        "Retries and errors",
        "For the engineer: the state store",
    ]
    assert "<html lang='en'>" in page
    assert drift_run.summary["title"].replace("'", "&#x27;") in page


def test_a_run_without_the_html_report_still_writes_its_review(en_run: Run) -> None:
    assert (en_run.folder / "review.json").is_file()
    assert not (en_run.folder / "report.html").exists()
    assert "report" not in en_run.summary["paths"]


def test_export_of_a_folder_that_is_not_a_finished_run_is_refused(tmp_path: Path) -> None:
    proc = orchestrator("metrics", "export", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_has_the_authors_figures(review: dict[str, Any]) -> None:
    calls = review["llm"]["calls"]
    by_agent = review["llm"]["by_agent"]
    assert [row["agent"] for row in by_agent] == ["planner", "writer", "extractor", "editor"]
    assert sum(row["calls"] for row in by_agent) == len(calls)
    assert sum(row["output_tokens"] for row in by_agent) == review["llm"]["usage"]["output_tokens"]
    assert review["retries"] == []  # the offline model never fails
    assert review["errors"] == []
    assert review["run"]["length_unit"] == "words"
    assert review["clock"]["origin"].endswith("Z")
    # one clock, from the run's start: nothing before it, the store's operations on it too
    assert min(c["start_s"] for c in calls) >= 0
    assert review["state"]["operations"][0][0] >= review["clock"]["state_start_s"] >= 0


def test_summary_and_review_lead_with_the_writing_figures(
    review: dict[str, Any], drift_run: Run
) -> None:
    writing = drift_run.summary["writing"]
    assert list(review)[:4] == ["format", "version", "run", "writing"]
    assert review["writing"] == writing
    book, chapters = writing["book"], writing["chapters"]
    outcomes = drift_run.outcomes()
    assert [c["chapter"] for c in chapters] == sorted(outcomes)
    assert (writing["unit"], writing["ngram"], book["target_per_chapter"]) == ("words", 4, 200)
    for chapter in chapters:
        outcome = outcomes[chapter["chapter"]]
        assert chapter["revisions"] == outcome["attempts"] - 1
        assert chapter["continuations"] == outcome["continuations"]
        assert chapter["length"] == outcome["words"]
        assert 0 < chapter["length_score"] <= 100
        assert 0 <= chapter["repeated_within_pct"] <= 100
    assert book["revisions"] == drift_run.summary["revisions"] > 0
    assert book["length"] == drift_run.summary["words"]
    assert book["threads_due"] is not None  # the run knew its foreshadowing ledger
    assert book["threads_on_time"] <= book["threads_due"]
    assert book["findings"] == len(drift_run.read_json("findings.json"))


def test_csv_and_prom_carry_the_writing_figures(review: dict[str, Any], drift_run: Run) -> None:
    rows = list(csv.DictReader(io.StringIO(export(drift_run, "csv"))))
    chapters = [r for r in rows if r["kind"] == "chapter_writing"]
    (book,) = [r for r in rows if r["kind"] == "book_writing"]
    assert [int(r["chapter"]) for r in chapters] == list(range(1, 7))
    assert float(book["length_score"]) == review["writing"]["book"]["length_score"]
    assert float(book["repeated_pct"]) == review["writing"]["book"]["repeated_pct"]
    families = {f.name: f for f in text_string_to_metric_families(export(drift_run, "prom"))}
    (score,) = families["orchestrator_book_length_score"].samples
    assert score.value == review["writing"]["book"]["length_score"]
    per_chapter = families["orchestrator_chapter_overused_per_10k"].samples
    assert sorted(int(s.labels["chapter"]) for s in per_chapter) == list(range(1, 7))


def test_a_run_from_before_the_figures_gets_them_from_its_folder(
    review: dict[str, Any], drift_run: Run, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(drift_run.folder, old, ignore=shutil.ignore_patterns("*.lock"))
    summary = json.loads((old / "summary.json").read_text(encoding="utf-8"))
    del summary["writing"]
    for outcome in summary["chapter_outcomes"]:
        del outcome["continuations"], outcome["stop_reason"]
    (old / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    proc = orchestrator("metrics", "export", old, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    worked_out = json.loads(proc.stdout)["writing"]
    kept = review["writing"]
    assert worked_out["book"]["threads_due"] is None  # the ledger is in the store only
    for key in ("length", "length_score", "repeated_pct", "overused", "findings", "revisions"):
        assert worked_out["book"][key] == kept["book"][key]
