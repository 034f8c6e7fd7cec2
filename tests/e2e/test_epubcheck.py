"""The runs' EPUBs checked by the real EPUBCheck: no fatal, no error, no warning.

EPUBCheck is Debian's ``epubcheck`` package (``.ci/run`` installs it). Under CI
(``CI`` set) a missing checker fails these tests; elsewhere they skip. Each
book is one JVM launch of a couple of seconds, so the books are checked
concurrently, once per module; edge cases such as a blank title are kept to
the unit tests of :mod:`orchestrator.epub`, which need no JVM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Run

# Faster JVM start for a short-lived checker: about half the wall time of the defaults.
JVM_QUICK_START = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")
FAILING = ("FATAL", "ERROR", "WARNING")


def epubcheck_command() -> list[str] | None:
    """How to start EPUBCheck here, or None when it is not installed."""
    found = shutil.which("epubcheck")
    if found is None:
        return None
    target = Path(found).resolve()
    if target.suffix != ".jar":
        return [found]
    # Debian's /usr/bin/epubcheck is the jar itself, started through binfmt_misc,
    # which containers often lack: start it with java directly.
    java = shutil.which("java")
    return None if java is None else [java, *JVM_QUICK_START, "-jar", str(target)]


@pytest.fixture(scope="module")
def epubcheck() -> list[str]:
    command = epubcheck_command()
    if command is None:
        reason = "epubcheck is not installed (Debian package epubcheck; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return command


@pytest.fixture(scope="module")
def reports(
    epubcheck: list[str],
    en_run: Run,
    zh_run: Run,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Any]]:
    """EPUBCheck's JSON report on each run's manuscript.epub, by language."""
    out = tmp_path_factory.mktemp("epubcheck")
    runs = {"en": en_run, "zh": zh_run}
    procs = {
        name: subprocess.Popen(
            [*epubcheck, str(run.folder / "manuscript.epub"), "--json", str(out / f"{name}.json")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, run in runs.items()
    }
    outputs = {}
    try:
        for name, proc in procs.items():
            outputs[name], _ = proc.communicate(timeout=120)
    finally:
        for proc in procs.values():  # a timeout or an interrupt leaves no checker behind
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    results = {}
    for name, output in outputs.items():
        report = out / f"{name}.json"
        proc = procs[name]
        assert report.exists(), f"epubcheck wrote no report (exit {proc.returncode}):\n{output}"
        results[name] = json.loads(report.read_text(encoding="utf-8"))
    return results


def failures(report: dict[str, Any]) -> list[str]:
    """The report's fatals, errors and warnings, one readable line each."""
    lines = []
    for message in report["messages"]:
        if message["severity"] not in FAILING:
            continue
        where = ", ".join(
            f"{loc['path']}:{loc['line']}:{loc['column']}" for loc in message["locations"]
        )
        lines.append(f"{message['severity']}({message['ID']}) {where}: {message['message']}")
    return lines


@pytest.mark.parametrize("language", ["en", "zh"])
def test_epubcheck_finds_no_error_or_warning(
    reports: dict[str, dict[str, Any]], language: str
) -> None:
    report = reports[language]
    problems = failures(report)
    assert not problems, "\n".join(problems)
    checker = report["checker"]
    assert (checker["nFatal"], checker["nError"], checker["nWarning"]) == (0, 0, 0)
    assert report["publication"]["ePubVersion"].startswith("3")
    assert report["publication"]["language"] == language
