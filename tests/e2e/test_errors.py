"""Bad input exits 2 with one ``error: ...`` line on stderr, no traceback, and no run folder."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

from tests.e2e.conftest import EXAMPLE, SMALL, RunCli, orchestrator, write_project


def assert_bad_input(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stdout == ""
    for fragment in fragments:
        assert fragment in proc.stderr


def variant(folder: Path, old: str, new: str, name: str = "variant.yaml") -> Path:
    """The example project with one line changed."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    return write_project(folder, text.replace(old, new, 1), name)


def test_missing_config_file(tmp_path: Path) -> None:
    proc = orchestrator("run", "nope.yaml", cwd=tmp_path)
    assert_bad_input(proc, "nope.yaml", "no such file")
    assert not (tmp_path / "runs").exists()


def test_config_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    assert_bad_input(orchestrator("run", "project", cwd=tmp_path), "project", "directory")


def test_empty_config_file(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert_bad_input(orchestrator("run", "empty.yaml", cwd=tmp_path), "empty.yaml", "empty")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("project:\n  title: x\n\tchapters: 3\n", encoding="utf-8")
    proc = orchestrator("run", "bad.yaml", cwd=tmp_path)
    assert_bad_input(proc, "bad.yaml:3", "invalid YAML")
    assert not (tmp_path / "runs").exists()


def test_bad_value_names_the_field_and_its_line(tmp_path: Path) -> None:
    config = variant(tmp_path, "  chapters: 12\n", "  chapters: 0\n")
    proc = orchestrator("run", config, cwd=tmp_path)
    assert_bad_input(proc, "variant.yaml:9:", "project.chapters", "got 0")
    assert not (tmp_path / "runs").exists()


def test_bad_value_from_set_names_the_field(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", "project.chapters=0", cwd=tmp_path)
    assert_bad_input(proc, "project.chapters")


def test_bad_choice_lists_the_choices(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", "orchestrator.mode=fast", cwd=tmp_path)
    assert_bad_input(proc, "orchestrator.mode", "parallel", "sequential", "window")


def test_window_mode_needs_a_window(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", "orchestrator.mode=window", cwd=tmp_path)
    assert_bad_input(proc, "orchestrator.window", "required")


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    config = variant(tmp_path, "  target_words: 1500", "  target_word: 1500")
    proc = orchestrator("run", config, cwd=tmp_path)
    assert_bad_input(proc, "variant.yaml:10:", "project.target_word", "did you mean 'target_words'")


def test_unknown_key_from_set_suggests_the_close_one(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", "llm.sede=3", cwd=tmp_path)
    assert_bad_input(proc, "llm.sede", "did you mean 'seed'")
    # the --set is named, not a line of the file (which is fine)
    assert proc.stderr.startswith("error: --set llm.sede=3: llm.sede: unknown key")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("nonsense", "--set nonsense: expected path=value"),
        ("=3", "expected path=value"),
        ("llm..seed=3", "expected path=value"),
        ("world=[a", "not valid YAML"),
        ("world.9=x", "expected a list index"),
        ("project.title.x=1", "project.title is not a mapping"),
    ],
)
def test_bad_set(tmp_path: Path, override: str, expected: str) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", override, cwd=tmp_path)
    assert_bad_input(proc, expected)
    assert not (tmp_path / "runs").exists()


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its hash and its modification time."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_run_dir_that_holds_a_run_is_refused(run_cli: RunCli, project: Path) -> None:
    first = run_cli(project, *SMALL, flags=("--quiet",))
    assert first.proc.returncode == 0, first.proc.stderr
    manuscript = (first.folder / "manuscript.md").read_bytes()
    before = fingerprint(first.folder)
    second = run_cli(project, *SMALL, "llm.seed=99", flags=("--quiet",))
    assert_bad_input(second.proc, "already holds a run", str(first.folder))
    assert (first.folder / "manuscript.md").read_bytes() == manuscript
    assert fingerprint(first.folder) == before


def test_empty_existing_run_dir_is_used(run_cli: RunCli, project: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    run = run_cli(project, *SMALL, flags=("--quiet",))
    assert run.proc.returncode == 0, run.proc.stderr
    assert (run.folder / "summary.json").is_file()


def test_run_dir_that_is_a_file_is_refused(run_cli: RunCli, project: Path, tmp_path: Path) -> None:
    (tmp_path / "run").write_text("not a folder", encoding="utf-8")
    run = run_cli(project, *SMALL)
    assert run.proc.returncode == 2
    assert "Traceback" not in run.proc.stderr
    assert (tmp_path / "run").read_text(encoding="utf-8") == "not a folder"


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    proc = orchestrator("run", config, "--set", "llm.provider=openai", cwd=tmp_path)
    assert_bad_input(proc, "llm.provider")


# A refused run creates nothing: no run folder (or the folder as it was), one line.

UNREACHABLE = "state.url=redis://127.0.0.1:1/0"  # no server listens on port 1


def assert_refused(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Refused with exit 2 and exactly one line on stderr: no log line before it."""
    assert_bad_input(proc, *fragments)
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (UNREACHABLE, "Redis is not reachable"),
        ("orchestrator.min_free_mb=999999999", "not starting"),
    ],
)
def test_refused_run_leaves_no_folder(
    run_cli: RunCli, project: Path, tmp_path: Path, override: str, expected: str
) -> None:
    run = run_cli(project, override, run_dir="deep/run")
    assert_refused(run.proc, expected)
    assert not (tmp_path / "deep").exists()


@pytest.mark.parametrize("override", [UNREACHABLE, "orchestrator.min_free_mb=999999999"])
def test_refused_run_leaves_no_runs_folder(tmp_path: Path, override: str) -> None:
    config = write_project(tmp_path)
    assert_refused(orchestrator("run", config, "--set", override, cwd=tmp_path))
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override", [UNREACHABLE, "orchestrator.min_free_mb=999999999"])
def test_refused_run_leaves_an_existing_folder_as_it_was(
    run_cli: RunCli, project: Path, tmp_path: Path, override: str
) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine", encoding="utf-8")
    before = fingerprint(tmp_path / "run")
    run = run_cli(project, override)
    assert_refused(run.proc)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["notes.txt"]
    assert fingerprint(tmp_path / "run") == before


def test_store_of_another_run_is_refused_before_the_folder(
    run_cli: RunCli, project: Path, tmp_path: Path
) -> None:
    first = run_cli(project, *SMALL, "state.url=sqlite://shared.db", flags=("--quiet",))
    assert first.proc.returncode == 0, first.proc.stderr
    second = run_cli(project, *SMALL, "state.url=sqlite://shared.db", run_dir="second")
    assert_refused(second.proc, "already holds run 'run'")
    assert not (tmp_path / "second").exists()


def test_run_refused_by_the_lock_leaves_the_folder_as_it_was(
    run_cli: RunCli, project: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    with FileLock(folder / "run.lock"):  # another process is starting a run in it
        before = fingerprint(folder)
        run = run_cli(project, *SMALL)
        assert_refused(run.proc, "is being written by")
        assert sorted(p.name for p in folder.iterdir()) == ["run.lock"]
        assert fingerprint(folder) == before
