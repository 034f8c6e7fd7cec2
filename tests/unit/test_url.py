from pathlib import Path

import pytest

from state.backends.redis_url import with_default_namespace, without_password
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


def test_a_redis_url_names_server_database_and_namespace() -> None:
    url = parse_state_url("redis://writer:s3cret@db.example:6380/2?namespace=tides&lease=5")
    assert url.redis is not None
    assert (url.redis.host, url.redis.port, url.redis.db) == ("db.example", 6380, 2)
    assert (url.redis.username, url.redis.password) == ("writer", "s3cret")
    assert url.redis.namespace == "tides"
    assert not url.redis.tls
    assert url.lease_s == 5
    assert url.durability == "full"


def test_a_redis_url_never_shows_its_password() -> None:
    url = parse_state_url("rediss://writer:s3cret@db.example/0?namespace=tides")
    assert url.redis is not None
    assert url.redis.tls
    for shown in (str(url), url.full(), repr(url)):
        assert "s3cret" not in shown
    assert url.full().startswith("rediss://writer@db.example:6379/0?namespace=tides&")
    assert parse_state_url(url.full()).redis == url.redis


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("redis://:pw@host/0?namespace=a b", "namespace must be"),
        ("redis://:pw@host/zero", "database number"),
        ("redis://:pw@host/0?allow_network_fs=1", "unknown option 'allow_network_fs'"),
        ("redis://:pw@host/0?lease=0", "lease must be more than 0"),
        ("redis://:pw@host:99999/0", "bad port"),
    ],
)
def test_a_bad_redis_url_is_explained_without_its_password(text: str, message: str) -> None:
    with pytest.raises(StateURLError, match=message) as caught:
        parse_state_url(text)
    assert "pw" not in str(caught.value)


def test_a_redis_url_without_namespace_uses_the_default() -> None:
    url = parse_state_url("redis://127.0.0.1:6379/0")
    assert url.redis is not None
    assert url.redis.namespace == "default"
    assert url.redis.key_prefix == "orchestrator:{default}:"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://h:1/0", "redis://h:1/0?namespace=my-run-"),
        ("redis://h:1/0?lease=2", "redis://h:1/0?lease=2&namespace=my-run-"),
        ("redis://h:1/0?namespace=given", "redis://h:1/0?namespace=given"),
        ("sqlite:///runs/x/state.db", "sqlite:///runs/x/state.db"),
    ],
)
def test_a_run_gives_a_redis_url_without_namespace_its_own(text: str, expected: str) -> None:
    assert with_default_namespace(text, "my run!") == expected
    parse_state_url(expected)  # a run's id that is no valid namespace is made one


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:pw@h:1/0?namespace=a", "redis://h:1/0?namespace=a"),
        ("rediss://writer:pw@h/0", "rediss://writer@h/0"),
        ("redis://h/0", "redis://h/0"),
        ("sqlite:///a:pw@b/state.db", "sqlite:///a:pw@b/state.db"),
    ],
)
def test_a_url_written_to_a_file_leaves_the_password_out(text: str, expected: str) -> None:
    assert without_password(text) == expected
