"""What the wheel ships: every package on disk, the templates, prices and voices."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _listed() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_on_disk_is_listed_for_the_wheel() -> None:
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("orchestrator", "agents", "state")
        for init in (ROOT / top).rglob("__init__.py")
    }
    listed = set(_listed()["packages"])  # type: ignore[call-overload]
    assert on_disk | {"agents.templates"} == listed


def test_the_prompt_templates_ship_as_package_data() -> None:
    settings = _listed()
    assert settings["package-dir"] == {"agents.templates": "prompts"}
    assert (ROOT / "prompts" / "writer.en.md").exists()
    assert settings["package-data"]["agents.templates"] == [
        "*.md",
        "labels.*.yaml",
        "report.*.yaml",
        "overused.*.yaml",
    ]  # type: ignore[index]


def test_the_templates_load_through_the_package() -> None:
    from importlib import resources

    templates = resources.files("agents.templates")
    names = {entry.name for entry in templates.iterdir()}
    assert {"writer.en.md", "writer.zh.md", "labels.en.yaml", "labels.zh.yaml"} <= names
    assert {"overused.en.yaml", "overused.zh.yaml"} <= names
