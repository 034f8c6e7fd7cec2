"""What model calls cost: a price table per model, read from a YAML file anyone can edit.

The table shipped is ``agents/prices.yaml``; a project may name its own
(``llm.prices``). Prices are US dollars per million tokens, with cache writes
and cache reads priced apart from plain input, as the Messages API bills them.
The table's ``cache_write`` is the 5-minute cache's; a 1-hour cache write
(``llm.cache_ttl: 1h``) costs twice the input price, as the API bills it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.clients.base import Usage
from agents.errors import PriceTableError

DEFAULT_PRICES = Path(__file__).resolve().parent / "prices.yaml"
PER_TOKENS = 1_000_000
HOUR_WRITE_FACTOR = 2.0  # a 1-hour cache write, in input prices
# claude-sonnet-4-5-20250929 and claude-3-5-haiku-latest are priced as their family.
_SUFFIX = re.compile(r"-(\d{8}|latest)$")


class ModelPrice(BaseModel):
    """US dollars per million tokens of each kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)

    def cost(self, usage: Usage, cache_ttl: str = "5m") -> float:
        """What ``usage`` costs at these prices, in US dollars (cache writes at the price
        of ``cache_ttl``: ``5m`` the table's, ``1h`` twice the input price)."""
        write = self.input * HOUR_WRITE_FACTOR if cache_ttl == "1h" else self.cache_write
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * write
            + usage.cache_read_tokens * self.cache_read
        )
        return total / PER_TOKENS


class PriceTable(BaseModel):
    """Model name -> its prices (``models:`` in the YAML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, ModelPrice]
    source: str = Field(default="", exclude=True)

    def price(self, model: str) -> ModelPrice | None:
        """The prices of ``model``: its own row, else its family's (date suffix dropped)."""
        return self.models.get(model) or self.models.get(_SUFFIX.sub("", model))

    def require(self, model: str) -> ModelPrice:
        """The prices of ``model``; PriceTableError when the table has none."""
        found = self.price(model)
        if found is None:
            raise PriceTableError(
                self.source,
                f"no price for model {model!r}; add a row for it (US dollars per million "
                "tokens: input, output, cache_write, cache_read)",
            )
        return found

    def cost(self, model: str, usage: Usage, cache_ttl: str = "5m") -> float:
        """What ``usage`` of ``model`` costs (0 for a model the table does not know)."""
        found = self.price(model)
        return found.cost(usage, cache_ttl) if found else 0.0


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The price table in ``path`` (default: the one shipped); PriceTableError if unusable."""
    source = Path(path) if path is not None else DEFAULT_PRICES
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceTableError(str(source), f"cannot be read: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PriceTableError(str(source), f"is not a YAML file: {exc}") from None
    try:
        return PriceTable.model_validate({**_mapping(data, source), "source": str(source)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise PriceTableError(str(source), problems) from None


def _mapping(data: object, source: Path) -> dict[str, object]:
    if not isinstance(data, dict):
        raise PriceTableError(str(source), "expected a mapping with `models:`")
    return data
