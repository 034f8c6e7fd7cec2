from pathlib import Path

import pytest

from state.errors import StateURLError
from state.url import parse_state_url


def test_absolute_sqlite_path() -> None:
    url = parse_state_url("sqlite:///srv/novel/state.db")
    assert url.scheme == "sqlite"
    assert url.path == Path("/srv/novel/state.db")
    assert url.durability == "full"


def test_relative_path_is_taken_from_base_dir(tmp_path: Path) -> None:
    url = parse_state_url("json://runs/a/state.json", base_dir=tmp_path)
    assert url.path == tmp_path / "runs/a/state.json"


def test_options_are_parsed() -> None:
    url = parse_state_url("sqlite:///x/state.db?durability=normal&lock_timeout=2.5")
    assert url.durability == "normal"
    assert url.lock_timeout_s == 2.5


def test_typo_in_scheme_suggests_the_right_one() -> None:
    with pytest.raises(StateURLError, match="did you mean 'sqlite'"):
        parse_state_url("sqlit:///x/state.db")


def test_unknown_option_is_named() -> None:
    with pytest.raises(
        StateURLError, match=r"unknown option 'durabilty'.*did you mean 'durability'"
    ):
        parse_state_url("sqlite:///x/state.db?durabilty=full")


def test_bad_durability_lists_the_choices() -> None:
    with pytest.raises(StateURLError, match="full, group, normal, off"):
        parse_state_url("json:///x/state.json?durability=max")


def test_missing_scheme_shows_an_example() -> None:
    with pytest.raises(StateURLError, match="sqlite:///"):
        parse_state_url("/x/state.db")


def test_redis_is_named_as_not_yet_available() -> None:
    with pytest.raises(StateURLError, match="Redis backend is not available yet"):
        parse_state_url("redis://127.0.0.1:6379/0")
