import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.project.briefs import agent_settings, given_outline, initial_state, project_brief
from orchestrator.project.config import AgentModels, LLMSection, config_json_schema
from orchestrator.project.load import load_config
from orchestrator.project.problems import ConfigError
from tests.config.conftest import EXAMPLE, minimal

WriteConfig = Callable[[Any], Path]


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert path.name in message
    return message


def test_the_example_project_loads_and_runs_offline() -> None:
    config = load_config(EXAMPLE)
    assert config.project.chapters == 12
    assert len(config.characters) == 5
    assert config.llm.provider == "offline"
    assert config.llm.latency_ms == 0
    assert config.orchestrator.workers == 20
    state = initial_state(config)
    assert state.characters["Mara Quell"].location == "the Harbour Office"
    assert "her father's ledger" in state.characters["Mara Quell"].inventory
    brief = project_brief(config)
    assert brief.initial == state
    assert len(brief.world) == 5
    assert agent_settings(config, "writer").model == "offline"


def test_defaults_fill_what_a_minimal_file_leaves_out(write_config: WriteConfig) -> None:
    config = load_config(write_config(minimal()))
    assert config.project.language == "en"
    assert (config.orchestrator.workers, config.orchestrator.mode) == (20, "parallel")
    assert config.orchestrator.max_attempts == 3
    assert (config.llm.latency_ms, config.llm.drift) == (0, 0)
    assert config.state.url is None
    thresholds = config.state.thresholds
    assert (thresholds.lock_wait_p99_ms, thresholds.action) == (100, "warn")
    assert config.world == []


def test_world_notes_may_be_one_string(write_config: WriteConfig) -> None:
    data = minimal() | {"world": "It always rains."}
    assert load_config(write_config(data)).world == ["It always rains."]


def test_bad_yaml_syntax_gives_the_line_and_column(write_config: WriteConfig) -> None:
    message = _error(write_config("project:\n  title: T\n    premise: [unclosed\n"))
    assert "novel.yaml:3:" in message
    assert "invalid YAML" in message


def test_a_missing_required_field_is_named(write_config: WriteConfig) -> None:
    data = minimal()
    del data["project"]["premise"]
    message = _error(write_config(data))
    assert "project.premise: required field is missing" in message


def test_a_wrong_type_deep_in_the_characters_is_named_with_its_path(
    write_config: WriteConfig,
) -> None:
    data = minimal()
    data["characters"][2]["initial"]["location"] = 42
    message = _error(write_config(data))
    assert "characters[2].initial.location: expected a string, got 42" in message
    line = next(
        n for n, text in enumerate(write_config(data).read_text().splitlines(), 1) if "42" in text
    )
    assert f"novel.yaml:{line}: characters[2]" in message


def test_an_unknown_key_is_named_with_a_suggestion(write_config: WriteConfig) -> None:
    data = minimal()
    data["characters"][0]["inital"] = data["characters"][0].pop("initial")
    message = _error(write_config(data))
    assert "characters[0].inital: unknown key; did you mean 'initial'?" in message
    assert "characters[0].initial: required field is missing" in message


def test_every_problem_is_listed_one_per_line(write_config: WriteConfig) -> None:
    data = minimal()
    data["project"]["language"] = "fr"
    data["characters"][1]["initial"]["location"] = ["two", "places"]
    data["llm"] = {"drift": 2}
    data["orchestrator"] = {"mode": "window"}
    lines = _error(write_config(data)).splitlines()
    assert lines[0].endswith("4 problems in the project file")
    paths = [line.split(": ")[1] for line in lines[1:]]
    assert paths == [
        "project.language",
        "characters[1].initial.location",
        "llm.drift",
        "orchestrator.window",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "got nothing (the file is empty)"),
        ("- a\n- b\n", "expected a mapping"),
        ("project: {}\nproject: {}\n", "duplicate key 'project' (first at line 1)"),
    ],
)
def test_a_file_that_is_no_project_is_refused(
    write_config: WriteConfig, content: str, expected: str
) -> None:
    assert expected in _error(write_config(content))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"llm": {"provider": "anthropic"}}, "llm.model: required when provider is anthropic"),
        ({"llm": {"provider": "anthropic", "model": "m", "base_url": "ftp://x"}}, "llm.base_url"),
        ({"state": {"url": "mysql://db"}}, "state.url: unknown backend 'mysql'"),
        ({"orchestrator": {"mode": "sequential", "window": 3}}, "orchestrator.window: only used"),
        (
            {"characters": [], "project": {**minimal()["project"], "outline": []}},
            "project.outline: an outline needs the cast it names",
        ),
    ],
)
def test_values_that_do_not_fit_together_are_named(
    write_config: WriteConfig, change: dict[str, Any], expected: str
) -> None:
    assert expected in _error(write_config(minimal() | change))


def test_duplicate_character_names_are_refused(write_config: WriteConfig) -> None:
    data = minimal()
    data["characters"][2]["name"] = "Ann"
    assert "characters[2].name: duplicate name, also characters[0]" in _error(write_config(data))


def _plan(number: int, pov: str, **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"C{number}",
        "pov": pov,
        "setting": "home",
        "beats": ["b"],
    } | extra


def test_a_given_outline_is_used_as_is(write_config: WriteConfig) -> None:
    data = minimal()
    data["project"]["outline"] = [
        _plan(1, "Ann", plants=["the-key"]),
        _plan(2, "Ben", changes=[{"key": "characters/Ann", "field": "location", "new": "mill"}]),
        _plan(3, "Cy", payoffs=["the-key"]),
    ]
    config = load_config(write_config(data))
    outline = given_outline(config)
    assert outline is not None
    assert len(outline.chapters) == 3
    ledger = initial_state(config, outline).foreshadowing
    assert ledger["the-key"].payoff_due == 3
    assert ledger["the-key"].description == "the key"
    # its threads listed as a planner lists them: counted and described alike
    assert [(t.id, t.description) for t in outline.threads] == [("the-key", "the key")]
    assert [plan.title for plan in outline.chapters] == ["C1", "C2", "C3"]
    assert project_brief(config).outline_given


def test_the_cast_and_world_are_optional(write_config: WriteConfig) -> None:
    data = {key: value for key, value in minimal().items() if key not in ("characters", "world")}
    config = load_config(write_config(data))
    assert config.characters == []
    assert config.world == []


def test_a_given_outline_must_fit_the_project(write_config: WriteConfig) -> None:
    data = minimal()
    data["project"]["outline"] = [_plan(1, "Ann"), _plan(2, "Zed", payoffs=["ghost"])]
    message = _error(write_config(data))
    assert "project.outline: has 2 chapters, project.chapters is 3" in message
    assert "project.outline[1].pov: 'Zed' is not in the cast (the cast: Ann, Ben, Cy)" in message
    assert "pays off thread 'ghost'" in message


def test_relationships_name_characters_of_the_cast(write_config: WriteConfig) -> None:
    data = minimal()
    data["characters"][0]["initial"]["relationships"] = {
        "Ben": "a friend",
        "Nobody Atall": "a ghost",
        "Cyy": "a cousin",
    }
    message = _error(write_config(data))
    ghost = "characters[0].initial.relationships['Nobody Atall']: 'Nobody Atall' is not in the cast"
    assert f"{ghost} (the cast: Ann, Ben, Cy)" in message
    cousin = "characters[0].initial.relationships.Cyy: 'Cyy' is not in the cast"
    assert f"{cousin}; did you mean 'Cy'?" in message
    assert "'Ben'" not in message


def test_a_given_outline_names_characters_of_the_cast(write_config: WriteConfig) -> None:
    data = minimal()
    data["project"]["outline"] = [
        _plan(1, "Anne"),
        _plan(2, "Ben", characters=["Ben", "Cy", "Zed"]),
        _plan(
            3,
            "Cy",
            changes=[
                {"key": "characters/Benn", "field": "location", "new": "mill"},
                {"key": "characters/Ann", "field": "relationships", "new": {"Ghost": "feared"}},
            ],
        ),
    ]
    path = write_config(data)
    lines = _error(path).splitlines()
    assert lines[0].endswith("4 problems in the project file")
    expected = [
        ":8: project.outline[0].pov: 'Anne' is not in the cast; did you mean 'Ann'?",
        ":18: project.outline[1].characters: 'Zed' is not in the cast (the cast: Ann, Ben, Cy)",
        ":29: project.outline[2].changes[0].key: 'Benn' is not in the cast; did you mean 'Ben'?",
        ":35: project.outline[2].changes[1].new.Ghost: 'Ghost' is not in the cast",
    ]
    for line, want in zip(lines[1:], expected, strict=True):
        assert f"{path}{want}" in line, (line, want)


def test_per_agent_models_override_the_default() -> None:
    models = AgentModels(planner="claude-a")
    llm = LLMSection(provider="anthropic", model="claude-b", models=models)
    assert (llm.model_for("planner"), llm.model_for("writer")) == ("claude-a", "claude-b")
    assert LLMSection(model="claude-b").model_for("writer") == "offline"


def test_the_json_schema_describes_the_file() -> None:
    schema = json.loads(json.dumps(config_json_schema()))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {
        "project",
        "characters",
        "world",
        "llm",
        "orchestrator",
        "state",
        "publish",
    }
    assert set(schema["required"]) == {"project"}  # no cast: the run proposes one
    assert schema["additionalProperties"] is False
    assert {"type": "string"} in schema["properties"]["world"]["anyOf"]


# A problem a --set caused names the --set, not a line of the file (which is fine).


def _set_error(path: Path, *overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return str(caught.value)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "llm.lantency_ms=5",
            "--set llm.lantency_ms=5: llm.lantency_ms: unknown key; did you mean",
        ),
        ("project.chapters=0", "--set project.chapters=0: project.chapters: should be greater"),
        ("llm.foo.bar=1", "--set llm.foo.bar=1: llm.foo: unknown key"),
        ("world=[a, 3]", "--set world=[a, 3]: world[1]: expected a string"),
        (
            "orchestrator.mode=window",
            "--set orchestrator.mode=window: orchestrator.window: required",
        ),
        ("nonsense", "--set nonsense: expected path=value"),
    ],
)
def test_a_set_problem_names_the_set_not_a_line(override: str, expected: str) -> None:
    message = _set_error(EXAMPLE, override)
    assert message.startswith(expected), message
    assert "config.yaml" not in message


def test_file_and_set_problems_each_name_their_own_place(write_config: WriteConfig) -> None:
    data = minimal()
    data["project"]["target_word"] = 10  # line 5 of the file
    message = _set_error(write_config(data), "llm.sede=3")
    lines = message.splitlines()
    assert lines[0].endswith("novel.yaml: 2 problems in the project file")
    assert lines[1].startswith("--set llm.sede=3: llm.sede: unknown key; did you mean 'seed'?")
    assert "novel.yaml:5: project.target_word: unknown key" in lines[2]
