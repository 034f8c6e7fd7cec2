"""``orchestrator bench run``: how fast whole runs are, and how far from ideal.

Each scenario runs ``orchestrator run`` in a child process, exactly as a user
would, so the figures include start-up, and the child's peak memory comes from
the kernel (``wait4``'s rusage), not from sampling. The scenarios:

- ``example``: the project file as it is, with ``latency_ms: 0``.
- ``parallel``: 100 chapters, 20 workers, ``latency_ms: 500``. The ideal wall
  time is the critical path (model calls that had to follow one another) x
  the latency; the ratio to it is the orchestrator's own overhead.
- ``serial``: 300 chapters, ``mode: sequential``, ``latency_ms: 0``: the
  web-novel case, for wall time, memory, and the size of the last prompt
  against the context budget.
- ``long``: 1,000 chapters, ``mode: sequential``, ``latency_ms: 0``: a long web novel,
  for peak memory (the goal: under 300 MB) and the largest prompt against the budget.
  Not in the default set (about a minute a run).
- ``workers``: ``parallel`` written by two ``orchestrator worker`` processes
  of 10 writers each, the coordinator writing nothing itself: what handing
  chapters to other processes through the store costs against the ideal.
- ``serial-workers``: 40 chapters, ``mode: sequential``, ``latency_ms: 500``,
  one worker of one writer: the hand-over of every chapter through the store
  (the poll) on the critical path.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.clients.windows import default_budget
from orchestrator.errors import OrchestratorError

SCENARIOS: dict[str, list[str]] = {
    "example": ["llm.latency_ms=0"],
    "parallel": [
        "project.chapters=100",
        "orchestrator.workers=20",
        "orchestrator.mode=parallel",
        "llm.latency_ms=500",
    ],
    "serial": ["project.chapters=300", "orchestrator.mode=sequential", "llm.latency_ms=0"],
    "long": ["project.chapters=1000", "orchestrator.mode=sequential", "llm.latency_ms=0"],
    "workers": [
        "project.chapters=100",
        "orchestrator.workers=0",
        "orchestrator.mode=parallel",
        "llm.latency_ms=500",
    ],
    "serial-workers": [
        "project.chapters=40",
        "orchestrator.workers=0",
        "orchestrator.mode=sequential",
        "llm.latency_ms=500",
    ],
}
# What runs without --scenario: all but the long book, which takes a minute a run.
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name != "long"]
# Scenarios written by joined workers: (worker processes, writers each).
JOINED: dict[str, tuple[int, int]] = {"workers": (2, 10), "serial-workers": (1, 1)}


class BenchRunError(OrchestratorError, RuntimeError):
    """A scenario's run did not finish (its stderr says why)."""


@dataclass(frozen=True)
class RunFigures:
    """One child run's figures."""

    process_wall_s: float
    run_wall_s: float
    peak_rss_mb: float
    chapters: int
    written: int
    revisions: int
    critical_path_calls: int
    latency_ms: float
    last_prompt_tokens: int
    max_prompt_tokens: int
    context_budget: int

    @property
    def ideal_s(self) -> float:
        return self.critical_path_calls * self.latency_ms / 1000


@dataclass
class ScenarioResult:
    """The runs of one scenario and their medians."""

    name: str
    overrides: list[str]
    runs: list[RunFigures] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(run, attribute)) for run in self.runs)

    def ratio_to_ideal(self) -> float | None:
        ideal = self.median("ideal_s")
        return None if ideal <= 0 else self.median("run_wall_s") / ideal

    def to_dict(self) -> dict[str, Any]:
        figures = [
            "process_wall_s",
            "run_wall_s",
            "peak_rss_mb",
            "ideal_s",
            "last_prompt_tokens",
            "max_prompt_tokens",
        ]
        return {
            "name": self.name,
            "overrides": self.overrides,
            "runs": [{**asdict(run), "ideal_s": run.ideal_s} for run in self.runs],
            "median": {name: self.median(name) for name in figures},
            "ratio_to_ideal": self.ratio_to_ideal(),
        }


def run_once(
    config: Path, overrides: list[str], workdir: Path, joined: tuple[int, int] = (0, 0)
) -> RunFigures:
    """One ``orchestrator run`` in a child process, measured (with ``joined`` workers:
    that many ``orchestrator worker`` processes of so many writers, once the run is up)."""
    run_dir = workdir / f"run-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "orchestrator", "run", str(config), "--quiet"]
    command += ["--run-dir", str(run_dir)]
    for override in overrides:
        command += ["--set", override]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers = _join(run_dir, child, *joined)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    for worker in workers:
        worker.wait(timeout=60)
    if child.returncode not in (0, 1):
        raise BenchRunError(f"orchestrator run exited {child.returncode}: {stderr.strip()}")
    return _figures(run_dir, elapsed, usage.ru_maxrss / 1024)


def _join(
    run_dir: Path, run: subprocess.Popen[bytes], processes: int, writers: int
) -> list[subprocess.Popen[bytes]]:
    """Start ``processes`` workers of ``writers`` each on the run, once its store is up."""
    if processes == 0:
        return []
    while not (run_dir / "run.json").exists() and run.poll() is None:
        time.sleep(0.01)
    command = [sys.executable, "-m", "orchestrator", "worker", str(run_dir)]
    command += ["--writers", str(writers)]
    return [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(processes)
    ]


def _figures(run_dir: Path, elapsed: float, peak_mb: float) -> RunFigures:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    used = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    prompts = [o["prompt_tokens"] for o in summary["chapter_outcomes"] if o["prompt_tokens"]]
    return RunFigures(
        process_wall_s=round(elapsed, 3),
        run_wall_s=summary["wall_s"],
        peak_rss_mb=round(peak_mb, 1),
        chapters=summary["chapters"],
        written=summary["written"],
        revisions=summary["revisions"],
        critical_path_calls=summary["critical_path_calls"],
        latency_ms=float(used["llm"]["latency_ms"]),
        last_prompt_tokens=prompts[-1] if prompts else 0,
        max_prompt_tokens=max(prompts, default=0),
        context_budget=int(
            used["orchestrator"].get("context_tokens")
            or default_budget(str(used["llm"].get("model") or "offline"))
        ),
    )


def run_bench(
    config: Path, names: list[str], repeat: int, folder: Path | None = None
) -> list[ScenarioResult]:
    """Every scenario in ``names``, ``repeat`` times each, interleaved run by run."""
    results = [ScenarioResult(name, SCENARIOS[name]) for name in names]
    with tempfile.TemporaryDirectory(prefix="bench-run-", dir=folder) as tmp:
        for _ in range(repeat):
            for result in results:
                joined = JOINED.get(result.name, (0, 0))
                result.runs.append(run_once(config, result.overrides, Path(tmp), joined))
    return results


def format_results(results: list[ScenarioResult]) -> str:
    """The figures as a few readable lines per scenario (medians)."""
    lines = []
    for result in results:
        last = result.runs[-1]
        lines.append(f"{result.name}: {last.chapters} chapters ({', '.join(result.overrides)})")
        lines.append(
            f"  wall {result.median('run_wall_s'):.3f} s in the run, "
            f"{result.median('process_wall_s'):.3f} s with start-up; "
            f"peak memory {result.median('peak_rss_mb'):.0f} MB"
        )
        ratio = result.ratio_to_ideal()
        if ratio is not None:
            lines.append(
                f"  ideal {result.median('ideal_s'):.3f} s ({last.critical_path_calls} calls on "
                f"the critical path x {last.latency_ms:g} ms): ratio {ratio:.3f}"
            )
        lines.append(
            f"  prompt tokens: last chapter {last.last_prompt_tokens:,}, "
            f"largest {last.max_prompt_tokens:,}, budget {last.context_budget:,}; "
            f"revisions {last.revisions}; median of {len(result.runs)}"
        )
    return "\n".join(lines)
