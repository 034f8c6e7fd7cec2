"""End-to-end fixtures: the real ``orchestrator`` command in a subprocess, on small projects.

Runs are shared per session where tests only read them (the English, Chinese
and drifted runs), so the folder stays fast; a test that needs its own run
(errors, modes, secrets) makes one with ``run_cli``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.yaml"
# Small enough that a run takes well under a second (no HTML report: not what most tests
# look at; tests/e2e/test_metrics_export.py makes the runs that have one).
SMALL = ("project.chapters=6", "project.target_words=200", "orchestrator.html_report=false")
DRIFT = "llm.drift=0.6"
# Seeds tried, in order, for a drifted run with at least one revision.
DRIFT_SEEDS = range(20)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

ZH_PROJECT = """\
project:
  title: 灯塔账簿
  genre: 悬疑
  language: zh
  chapters: 6
  target_words: 600
  premise: 港务局的年轻文书在亡父的账簿里发现了一艘从未存在过的船。
characters:
  - name: 林晚
    role: 主角
    description: 港务局文书，固执而细心。
    initial: {location: 港务局, emotion: 焦躁, inventory: [一把铜钥匙]}
  - name: 周默
    role: 盟友
    description: 灯塔学徒。
    initial: {location: 灯塔, emotion: 不安}
  - name: 顾远山
    role: 反派
    description: 港务长。
    initial: {location: 行会大厅, emotion: 镇定}
world:
  - 维尔港终年大雾。
llm:
  drift: 0.4
"""


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout importable, no real API key."""
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, **extra}


def orchestrator(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m orchestrator ARGS`` in ``cwd``; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *map(str, args)],
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


@dataclass(frozen=True)
class Run:
    """One ``orchestrator run``: how it exited, what it printed, and its run folder."""

    folder: Path
    proc: subprocess.CompletedProcess[str]

    @property
    def url(self) -> str:
        return f"sqlite://{self.folder / 'state.db'}"

    def read_json(self, name: str) -> Any:
        return json.loads((self.folder / name).read_text(encoding="utf-8"))

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.read_json("summary.json"))

    def outcomes(self) -> dict[int, dict[str, Any]]:
        """``summary.json``'s chapter outcomes by chapter number."""
        return {o["chapter"]: o for o in self.summary["chapter_outcomes"]}

    def drafts(self, chapter: int) -> list[Path]:
        return sorted((self.folder / "drafts").glob(f"{chapter:03d}-*.md"))

    def chapter_text(self, chapter: int) -> str:
        return (self.folder / "chapters" / f"{chapter:03d}.md").read_text(encoding="utf-8")

    def history(self) -> list[dict[str, Any]]:
        """``orchestrator state history``: every committed delta, in commit order."""
        proc = orchestrator("state", "history", self.url, cwd=self.folder)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines()]

    def snapshot(self, as_of_chapter: int | None = None) -> dict[str, Any]:
        """``orchestrator state snapshot`` (latest, or as of a chapter)."""
        extra = [] if as_of_chapter is None else ["--as-of-chapter", str(as_of_chapter)]
        proc = orchestrator("state", "snapshot", self.url, *extra, cwd=self.folder)
        assert proc.returncode == 0, proc.stderr
        return dict(json.loads(proc.stdout))


RunCli = Callable[..., Run]


def run_in(
    base: Path,
    config: Path,
    *sets: str,
    run_dir: str = "run",
    flags: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Run:
    """``orchestrator run CONFIG --run-dir RUN_DIR --set ...`` with ``base`` as the cwd."""
    args: list[str | Path] = [config, "--run-dir", run_dir, *flags]
    for override in sets:
        args += ["--set", override]
    return Run(base / run_dir, orchestrator("run", *args, cwd=base, env=env))


def write_project(folder: Path, text: str | None = None, name: str = "config.yaml") -> Path:
    """The example project (or ``text``) as a file in ``folder``."""
    path = folder / name
    if text is None:
        shutil.copyfile(EXAMPLE, path)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def body_of(chapter_md: str) -> str:
    """A chapter file without its ``# heading`` line."""
    heading, _, body = chapter_md.partition("\n")
    assert heading.startswith("# "), heading
    return body.strip()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def drifted_run(base: Path, *sets: str, flags: tuple[str, ...] = ()) -> Run:
    """The run of the first seed in DRIFT_SEEDS that revises at least one chapter.

    Revisions are written against a state whose version depends on the order in
    which concurrent attempts committed, so a seed's run is not exactly
    reproducible: tests take the run the loop found, they never re-run a seed.
    """
    config = write_project(base)
    for seed in DRIFT_SEEDS:
        overrides = (*SMALL, DRIFT, f"llm.seed={seed}", *sets)
        run = run_in(base, config, *overrides, run_dir=f"s{seed}", flags=flags)
        assert run.proc.returncode == 0, run.proc.stderr
        if run.summary["revisions"] > 0:
            return run
    pytest.fail(f"no seed in {DRIFT_SEEDS} gave a revision with {DRIFT} {' '.join(sets)}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project in tmp_path."""
    return write_project(tmp_path)


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(config, *sets, run_dir=..., flags=..., env=...)`` in tmp_path."""

    def run(config: Path, *sets: str, **kwargs: Any) -> Run:
        return run_in(tmp_path, config, *sets, **kwargs)

    return run


@pytest.fixture(scope="session")
def en_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The example project, 6 chapters of about 200 words, no drift."""
    base = tmp_path_factory.mktemp("en")
    run = run_in(base, write_project(base), *SMALL)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


@pytest.fixture(scope="session")
def zh_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A Chinese project of 6 chapters (its own drift of 0.4)."""
    base = tmp_path_factory.mktemp("zh")
    config = write_project(base, ZH_PROJECT, "novel.yaml")
    run = run_in(base, config, "project.target_words=200")
    assert run.proc.returncode == 0, run.proc.stderr
    return run


@pytest.fixture(scope="session")
def drift_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A parallel run with drift 0.6 in which at least one chapter was revised."""
    return drifted_run(tmp_path_factory.mktemp("drift"))
