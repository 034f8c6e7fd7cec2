"""A project from a premise: ``orchestrator init`` writes it, ``run`` proposes the cast
first (``bible.yaml``), then plans and writes with it; ``resume`` never asks twice, and an
edit of ``bible.yaml`` is validated like a project file."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import CJK, Run, RunCli, cli_env, orchestrator, run_in

SMALL = ("project.chapters=4", "project.target_words=200", "orchestrator.html_report=false")
PREMISE = {
    "en": "A harbour clerk finds a ship in her drowned father's ledger that, on every other "
    "record in the city, never existed.",
    "zh": "港务局的年轻文书在亡父的账簿里发现了一艘从未存在过的船。",
}
TITLE = {"en": "The Salt Archive", "zh": "盐的档案"}
# The fourth store commit of a premise-only run is the outline's: killed there, the run
# folder holds bible.yaml and no outline (the test checks both).
KILL_BEFORE_OUTLINE = "sqlite.before_commit@4"
KILL_MID_WRITING = "sqlite.before_commit@8"


def init(base: Path, language: str, name: str = "novel.yaml") -> Path:
    proc = orchestrator(
        "init", name, "--language", language, "--title", TITLE[language], "--genre",
        "mystery", "--chapters", "4", "--premise", PREMISE[language], cwd=base,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"orchestrator run {name}" in proc.stdout
    return base / name


def bible_calls(run: Run) -> int:
    calls = (run.folder / "model_calls.jsonl").read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line)["agent"] == "bible" for line in calls)


def cast_of(run: Run) -> list[str]:
    bible = yaml.safe_load((run.folder / "bible.yaml").read_text(encoding="utf-8"))
    return [character["name"] for character in bible["characters"]]


@pytest.fixture(scope="module", params=["en", "zh"])
def premise_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A project written by init (no cast), run end to end on the offline model."""
    base = tmp_path_factory.mktemp(f"premise-{request.param}")
    run = run_in(base, init(base, request.param), *SMALL)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


# -- init ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
def test_init_writes_a_commented_project_config_check_accepts(
    tmp_path: Path, language: str
) -> None:
    path = init(tmp_path, language)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#")
    data = yaml.safe_load(text)
    assert "characters" not in data, "no cast: the run's first step is the bible"
    assert data["project"]["premise"].strip() == PREMISE[language]
    assert data["project"]["language"] == language
    check = orchestrator("config", "check", path, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "no cast yet" in check.stdout
    assert TITLE[language] in check.stdout


def test_init_without_options_writes_config_yaml_with_a_placeholder_premise(
    tmp_path: Path,
) -> None:
    proc = orchestrator("init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "write your premise" in proc.stdout
    check = orchestrator("config", "check", "config.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stderr


def test_init_never_overwrites_a_file(tmp_path: Path) -> None:
    path = tmp_path / "novel.yaml"
    path.write_text("mine\n", encoding="utf-8")
    proc = orchestrator("init", "novel.yaml", "--premise", "x", cwd=tmp_path)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr
    assert path.read_text(encoding="utf-8") == "mine\n"


# -- a run from a premise ------------------------------------------------------------------


def test_the_run_writes_a_valid_bible_and_the_book(premise_run: Run) -> None:
    assert premise_run.summary["failed"] == []
    assert (premise_run.folder / "bible.yaml").read_text(encoding="utf-8").startswith("#")
    check = orchestrator(
        "config", "check", premise_run.folder / "config.yaml", cwd=premise_run.folder
    )
    assert check.returncode == 0, check.stderr
    assert bible_calls(premise_run) == 1
    verified = orchestrator("verify", premise_run.folder, cwd=premise_run.folder)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_book_is_written_with_the_bibles_cast(premise_run: Run) -> None:
    cast = cast_of(premise_run)
    assert len(cast) >= 3
    assert set(premise_run.snapshot()["characters"]) == set(cast)
    outline = premise_run.read_json("outline.json")
    assert {plan["pov"] for plan in outline["chapters"]} <= set(cast)
    text = (premise_run.folder / "manuscript.md").read_text(encoding="utf-8")
    assert any(name in text for name in cast)


def test_a_chinese_bible_has_chinese_names_and_notes(premise_run: Run) -> None:
    if premise_run.summary["language"] != "zh":
        pytest.skip("the Chinese run only")
    bible = yaml.safe_load((premise_run.folder / "bible.yaml").read_text(encoding="utf-8"))
    assert all(CJK.search(character["name"]) for character in bible["characters"])
    assert all(CJK.search(note) for note in bible["world"])
    assert "故事设定" in (premise_run.folder / "bible.yaml").read_text(encoding="utf-8")


def test_a_project_with_a_cast_asks_for_no_bible(en_run: Run) -> None:
    assert not (en_run.folder / "bible.yaml").exists()
    assert bible_calls(en_run) == 0


def test_plan_proposes_the_bible_and_an_outline_edit_is_checked_against_its_cast(
    tmp_path: Path,
) -> None:
    project = init(tmp_path, "en")
    planned = orchestrator("plan", project, "--run-dir", "run", *sets(SMALL), cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    run = Run(tmp_path / "run", planned)
    cast = cast_of(run)
    path = run.folder / "outline.yaml"
    text = path.read_text(encoding="utf-8")
    pov = re.search(r"^  pov: (.+)$", text, re.M)
    assert pov is not None
    path.write_text(text.replace(pov.group(0), "  pov: Nobody Atall", 1), encoding="utf-8")
    refused = orchestrator("write", run.folder, cwd=tmp_path)
    assert refused.returncode == 2
    assert f"(the cast: {', '.join(cast)})" in refused.stderr

    other = next(name for name in cast if name != pov.group(1))
    path.write_text(text.replace(pov.group(0), f"  pov: {other}", 1), encoding="utf-8")
    written = orchestrator("write", run.folder, "--quiet", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert run.read_json("outline.json")["chapters"][0]["pov"] == other
    assert bible_calls(run) == 1


def sets(overrides: tuple[str, ...]) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]


# -- resume and edits -----------------------------------------------------------------


def killed(run_cli: RunCli, project: Path, failpoint: str) -> Run:
    run = run_cli(project, *SMALL, env=cli_env(ORCHESTRATOR_FAILPOINT=failpoint))
    assert run.proc.returncode == -signal.SIGKILL, run.proc.stderr
    return run


def resume(run: Run) -> tuple[int, str]:
    proc = orchestrator("resume", run.folder, cwd=run.folder.parent)
    return proc.returncode, proc.stderr


def test_a_resume_after_the_bible_does_not_ask_for_it_again(
    tmp_path: Path, run_cli: RunCli
) -> None:
    run = killed(run_cli, init(tmp_path, "en"), KILL_BEFORE_OUTLINE)
    assert (run.folder / "bible.yaml").exists()
    assert not (run.folder / "outline.json").exists()
    before = (run.folder / "bible.yaml").read_bytes()
    code, err = resume(run)
    assert code == 0, err
    assert bible_calls(run) == 1
    assert (run.folder / "bible.yaml").read_bytes() == before
    assert set(run.snapshot()["characters"]) == set(cast_of(run))


def test_an_edited_bible_is_used_and_a_bad_edit_names_line_and_field(
    tmp_path: Path, run_cli: RunCli
) -> None:
    run = killed(run_cli, init(tmp_path, "en"), KILL_BEFORE_OUTLINE)
    path = run.folder / "bible.yaml"
    first = cast_of(run)[0]
    good = path.read_text(encoding="utf-8").replace(first, "Odile Sparrow")
    path.write_text(good.replace("Odile Sparrow", "Odile/Sparrow", 1), encoding="utf-8")
    run_json = (run.folder / "run.json").read_bytes()

    code, err = resume(run)
    assert code == 2
    line = next(n for n, text in enumerate(good.splitlines(), 1) if "Odile Sparrow" in text)
    assert re.search(rf"bible\.yaml:{line}: characters\[0\]\.name: .*'/'", err), err
    assert (run.folder / "run.json").read_bytes() == run_json
    assert not (run.folder / "outline.json").exists()

    path.write_text(good, encoding="utf-8")
    code, err = resume(run)
    assert code == 0, err
    assert "Odile Sparrow" in run.snapshot()["characters"]
    assert bible_calls(run) == 1


def test_an_edit_after_writing_started_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    run = killed(run_cli, init(tmp_path, "zh"), KILL_MID_WRITING)
    path = run.folder / "bible.yaml"
    kept = path.read_text(encoding="utf-8")
    path.write_text(kept.replace("role: 主角", "role: 主人公"), encoding="utf-8")
    code, err = resume(run)
    assert code == 2
    assert "bible.yaml was changed after the book was planned with it" in err
    path.write_text(kept, encoding="utf-8")
    code, err = resume(run)
    assert code == 0, err
