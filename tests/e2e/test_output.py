"""What a run prints: ``--quiet`` only the run folder; and no secret anywhere in the folder."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import SMALL, RunCli, cli_env, orchestrator

SECRET = "SECRET123"
SETS = [arg for override in SMALL for arg in ("--set", override)]


def test_quiet_prints_only_the_run_folder(run_cli: RunCli, project: Path, tmp_path: Path) -> None:
    run = run_cli(project, *SMALL, flags=("--quiet",))
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.proc.stdout == f"{tmp_path / 'run'}\n"
    assert run.proc.stderr == ""


def test_default_run_folder_is_under_runs_beside_the_project(tmp_path: Path, project: Path) -> None:
    sub = tmp_path / "work"
    sub.mkdir()
    args = ["run", project, "--quiet", *SETS]
    proc = orchestrator(*args, cwd=sub)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder.parent == tmp_path / "runs"
    assert (folder / "summary.json").is_file()
    assert not (sub / "runs").exists()


def test_two_default_runs_get_two_folders(tmp_path: Path, project: Path) -> None:
    args = ["run", project, "--quiet", *SETS]
    first = orchestrator(*args, cwd=tmp_path)
    second = orchestrator(*args, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout != second.stdout


def test_plain_progress_goes_to_stderr(run_cli: RunCli, project: Path) -> None:
    run = run_cli(project, *SMALL)
    assert run.proc.returncode == 0, run.proc.stderr
    assert "chapter 1 written" in run.proc.stderr
    assert "continuity pass" in run.proc.stderr
    assert "chapter 1 written" not in run.proc.stdout


def test_api_key_is_written_nowhere(run_cli: RunCli, project: Path) -> None:
    env = cli_env(ANTHROPIC_API_KEY=f"sk-ant-test-{SECRET}")
    run = run_cli(project, *SMALL, "llm.drift=0.3", flags=("--json",), env=env)
    assert run.proc.returncode == 0, run.proc.stderr
    files = [path for path in run.folder.rglob("*") if path.is_file()]
    assert len(files) > 15
    leaked = [str(path) for path in files if SECRET.encode() in path.read_bytes()]
    assert leaked == []
    assert SECRET not in run.proc.stdout + run.proc.stderr


def test_api_key_is_written_nowhere_with_debug_logs(project: Path, tmp_path: Path) -> None:
    env = cli_env(ANTHROPIC_API_KEY=f"sk-ant-test-{SECRET}")
    args = ["--log-level", "debug", "run", project, "--run-dir", "debug", *SETS]
    proc = orchestrator(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    for path in (tmp_path / "debug").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
