"""The price table: the file shipped, a project's own, and models it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.clients.base import Usage
from agents.clients.pricing import DEFAULT_PRICES, load_prices
from agents.errors import PriceTableError


def test_every_kind_of_token_has_its_own_price() -> None:
    price = load_prices().require("claude-sonnet-4-6")
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        cache_read_tokens=1_000_000,
    )
    assert price.cost(usage) == pytest.approx(3 + 15 + 3.75 + 0.30)


def test_a_dated_model_name_is_priced_as_its_family() -> None:
    prices = load_prices()
    assert prices.price("claude-sonnet-4-5-20250929") == prices.price("claude-sonnet-4-5")
    assert prices.price("claude-haiku-4-5-latest") == prices.price("claude-haiku-4-5")
    assert prices.price("offline") is not None


def test_an_unknown_model_is_an_error_naming_the_file_and_the_fix() -> None:
    with pytest.raises(PriceTableError) as caught:
        load_prices().require("claude-unheard-of-9")
    assert str(DEFAULT_PRICES) in str(caught.value)
    assert "claude-unheard-of-9" in str(caught.value)
    assert "add a row" in str(caught.value)


def test_a_project_may_bring_its_own_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  house-model: {input: 2, output: 8, cache_write: 2.5, cache_read: 0.2}\n",
        encoding="utf-8",
    )
    cost = load_prices(path).cost("house-model", Usage(input_tokens=500_000, output_tokens=250_000))
    assert cost == pytest.approx(1 + 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [1, 2]", "models: Input should be a valid dictionary"),
        ("models:\n  m: {input: -1, output: 1, cache_write: 1, cache_read: 1}\n", "models.m.input"),
        ("just text", "expected a mapping"),
        ("models: {m: {input: 1}", "is not a YAML file"),
    ],
)
def test_a_broken_table_is_an_error_naming_what_is_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PriceTableError) as caught:
        load_prices(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_missing_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="cannot be read"):
        load_prices(tmp_path / "nope.yaml")
