"""Training prices: a table that is configuration, not code.

The default table is `prices.json` next to this module (with its `source` and `as_of`); operators point
`LABELTUNE_PRICE_TABLE` at their own copy when prices change, without a release.

OpenAI's prices are one column (`training_per_1m_tokens`, under the table's `source` and `as_of`). Bedrock's
are an entry per base model (`bedrock`), each with its own `source` and `as_of`, because its parts were read
in different places: training per 1M tokens, custom model storage per month, and on-demand inference per 1M
input and output tokens. A price that was not found in the sources read is null, never 0: the report then
says "unknown" for that part of the estimate.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labeltune.dataset.tokens import base_model_of

PRICE_TABLE_ENV = "LABELTUNE_PRICE_TABLE"
DEFAULT_PRICE_TABLE = Path(__file__).with_name("prices.json")

_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class PriceTableError(ValueError):
    """The price table file is missing or not in the expected shape."""


class BedrockPrices(BaseModel):
    """One Bedrock base model's prices (USD). None: not published in the sources read, so unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    training_per_1m_tokens: float | None = Field(description="model customization, per 1M tokens trained on")
    storage_per_month: float | None = Field(description="storing one custom model, per month")
    inference_input_per_1m_tokens: float | None = Field(description="on-demand inference, per 1M input tokens")
    inference_output_per_1m_tokens: float | None = Field(description="on-demand inference, per 1M output tokens")
    inference_priced_as: str = Field("", description="what the inference prices are, e.g. the base model's rate")
    source: str = Field(min_length=1)
    as_of: str = Field(min_length=1)
    note: str = ""

    def prices(self) -> tuple[float | None, ...]:
        return (
            self.training_per_1m_tokens,
            self.storage_per_month,
            self.inference_input_per_1m_tokens,
            self.inference_output_per_1m_tokens,
        )


class PriceTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1, description="where the prices were read, e.g. the provider's price page")
    as_of: str = Field(min_length=1, description="when they were read")
    note: str = ""
    currency: str = "USD"
    training_per_1m_tokens: dict[str, float] = Field(description="base model -> price per 1M training tokens")
    bedrock: dict[str, BedrockPrices] = Field(default_factory=dict, description="Bedrock base model -> its prices")
    path: str = Field("", description="the file the table was loaded from (set by the loader)")

    def training_price(self, model: str) -> tuple[str, float] | None:
        """(the table entry used, its price per 1M training tokens) for `model`, or None when not priced.

        Looks up the base model (a "ft:" name is priced as its base), then, for an undated alias such as
        "gpt-4.1-mini", the single snapshot of that family in the table (none when snapshots disagree).
        """
        base = base_model_of(model)
        prices = self.training_per_1m_tokens
        if base in prices:
            return base, prices[base]
        if _SNAPSHOT_DATE.search(base):
            return None  # a snapshot the table does not list is not assumed to cost what its siblings cost
        matches = {key: price for key, price in prices.items() if _SNAPSHOT_DATE.sub("", key) == base}
        if matches and len(set(matches.values())) == 1:
            key = sorted(matches)[-1]
            return key, matches[key]
        return None

    def bedrock_prices(self, model: str) -> tuple[str, BedrockPrices] | None:
        """(the table entry used, its prices) for a Bedrock base model id, or None when not in the table."""
        key = model.strip()
        return (key, self.bedrock[key]) if key in self.bedrock else None


def load_price_table(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> PriceTable:
    """The table at `path`, else at $LABELTUNE_PRICE_TABLE, else the packaged default."""
    env = os.environ if environ is None else environ
    chosen = Path(path or env.get(PRICE_TABLE_ENV) or DEFAULT_PRICE_TABLE)
    try:
        data = json.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PriceTableError(f"cannot read the price table {chosen}: {error}") from error
    if not isinstance(data, dict):
        raise PriceTableError(f"the price table {chosen} is not a JSON object")
    try:
        table = PriceTable(**{**data, "path": str(chosen)})
    except ValidationError as error:
        raise PriceTableError(f"the price table {chosen} is not valid: {error}") from error
    bedrock = [price for entry in table.bedrock.values() for price in entry.prices() if price is not None]
    if any(price < 0 for price in [*table.training_per_1m_tokens.values(), *bedrock]):
        raise PriceTableError(f"the price table {chosen} has a negative price")
    return table
