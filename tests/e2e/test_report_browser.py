"""``report.html`` in a real browser (Debian's ``chromium``, headless): the page of an
English and of a Chinese run loads with no console error, in the book's language, the
book first; a screenshot of each is written for a person to look at.

Screenshots go to ``$ARTIFACTS_DIR`` when it is set, else ``tests/artifacts/`` (ignored
by git); their paths are printed (``pytest -s``). Under CI (``CI`` set) a missing
chromium fails these tests; elsewhere they skip. ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, ZH_PROJECT, Run, drifted_run, run_in, write_project

WITH_HTML = "orchestrator.html_report=true"
# Chromium's own complaints (no D-Bus, no GPU in a container) are not the page's.
# A page's console message: "[pid:tid:time:INFO:CONSOLE:1] "text", source: ..." (older
# versions: "CONSOLE(1)"); any message counts, the report has no script to log one.
CONSOLE = re.compile(r"CONSOLE[:(]\d+|Uncaught |net::ERR_")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def artifacts() -> Path:
    folder = Path(os.environ.get("ARTIFACTS_DIR") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def browse(page: Path, *mode: str, height: int = 2400) -> subprocess.CompletedProcess[str]:
    """Headless chromium on ``page``, its console messages on stderr."""
    return subprocess.run(
        [
            chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={page.parent / '.chromium'}",
            f"--window-size=1280,{height}", *mode, page.as_uri(),
        ],
        capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=120,
        check=False,
    )  # fmt: skip


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_a_page_with_an_error_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>nope();</script></body></html>")
    assert len(console_errors(browse(page, "--dump-dom").stderr)) == 1


@pytest.fixture(scope="module")
def en_report(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A drifted English run (chapters revised) with its report."""
    chromium()
    return drifted_run(tmp_path_factory.mktemp("report-en"), WITH_HTML)


@pytest.fixture(scope="module")
def zh_report(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A Chinese run with its report."""
    chromium()
    base = tmp_path_factory.mktemp("report-zh")
    run = run_in(base, write_project(base, ZH_PROJECT), "project.target_words=200", WITH_HTML)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


@pytest.mark.parametrize(
    ("which", "lang", "first", "unit", "figure"),
    [
        ("en", "en", "The book", "length (words)", "length score"),
        ("zh", "zh", "本书", "长度 (字)", "篇幅得分"),
    ],
)
def test_the_report_loads_cleanly_in_a_browser(
    which: str, lang: str, first: str, unit: str, figure: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(f"{which}_report")
    page = run.folder / "report.html"

    dom = browse(page, "--dump-dom")
    shot = artifacts() / f"report-{which}.png"
    shot.unlink(missing_ok=True)
    taken = browse(page, f"--screenshot={shot}")

    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_errors(dom.stderr + taken.stderr) == []
    html = dom.stdout
    assert f'<html lang="{lang}">' in html
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    assert headings[0] == first  # the book before anything else
    # ... and it leads with how the book reads: the writing figures' table comes first.
    tables = re.findall(r"<table>.*?</table>", html, re.S)
    assert figure in tables[0]
    assert headings[-1] in ("For the engineer: the state store", "供工程师参考：状态存储")
    assert unit in html
    assert html.count("<svg") == 4
    assert shot.is_file()
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of the {which} report: {shot}")  # noqa: T201 - for the person reading


def test_a_chinese_report_has_chinese_labels_only(zh_report: Run) -> None:
    page = (zh_report.folder / "report.html").read_text(encoding="utf-8")
    assert "<html lang='zh'>" in page
    for english in ("The book", "Continuity findings", "written", "Retries", "cost per",
                    "length score", "repeated", "per 10,000"):  # fmt: skip
        assert english not in page
    for chinese in ("本书", "连贯性问题", "各代理与模型的费用", "重试与错误", "篇幅得分", "每万字",
                    "字片段"):  # fmt: skip
        assert chinese in page
    statuses = {o["status"] for o in zh_report.summary["chapter_outcomes"]}
    assert "已写成" in page or "written" not in statuses
