"""The training price table is configuration: packaged default, operator override, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeltune.dataset.pricing import (
    DEFAULT_PRICE_TABLE,
    PRICE_TABLE_ENV,
    PriceTableError,
    load_price_table,
)


def test_the_packaged_table_says_where_its_prices_come_from() -> None:
    table = load_price_table(environ={})
    assert table.path == str(DEFAULT_PRICE_TABLE)
    assert table.source.startswith("https://") and table.as_of
    assert table.currency == "USD"
    for model in ("gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18"):
        assert table.training_per_1m_tokens[model] > 0


def test_the_packaged_table_is_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"dataset/prices.json"' in pyproject


@pytest.mark.parametrize(
    "model,entry",
    [
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini-2025-04-14"),
        ("ft:gpt-4.1-mini-2025-04-14:acme::x", "gpt-4.1-mini-2025-04-14"),
        ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),  # an undated alias: the one snapshot in the table
        ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ],
)
def test_lookup(model: str, entry: str) -> None:
    priced = load_price_table(environ={}).training_price(model)
    assert priced is not None and priced[0] == entry


def test_unpriced_models() -> None:
    table = load_price_table(environ={})
    assert table.training_price("gpt-9-2030-01-01") is None
    assert table.training_price("gpt-4.1-mini-2026-01-01") is None  # another snapshot is not assumed to cost the same


def test_operators_override_the_table_with_an_environment_variable(tmp_path: Path) -> None:
    custom = tmp_path / "prices.json"
    custom.write_text(
        json.dumps(
            {
                "source": "our contract",
                "as_of": "2026-11-01",
                "training_per_1m_tokens": {"gpt-4.1-mini-2025-04-14": 1.25},
            }
        )
    )
    table = load_price_table(environ={PRICE_TABLE_ENV: str(custom)})
    assert table.training_price("gpt-4.1-mini-2025-04-14") == ("gpt-4.1-mini-2025-04-14", 1.25)
    assert table.path == str(custom) and table.source == "our contract"
    assert load_price_table(custom, environ={}).as_of == "2026-11-01"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"as_of": "x", "training_per_1m_tokens": {}}),  # no source
        json.dumps({"source": "x", "as_of": "x", "training_per_1m_tokens": {"m": -1}}),
        json.dumps({"source": "x", "as_of": "x", "training_per_1m_tokens": {}, "surprise": 1}),
    ],
)
def test_a_broken_table_is_a_clear_error(content: str, tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceTableError, match="price table"):
        load_price_table(path)


def test_a_missing_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="cannot read"):
        load_price_table(environ={PRICE_TABLE_ENV: str(tmp_path / "missing.json")})


# --- Bedrock -------------------------------------------------------------------------------------------

NOVA_MODELS = (
    "amazon.nova-micro-v1:0:128k",
    "amazon.nova-lite-v1:0:300k",
    "amazon.nova-pro-v1:0:300k",
    "amazon.nova-2-lite-v1:0:256k",
)


def test_every_bedrock_model_in_the_catalog_has_an_entry_with_its_source() -> None:
    from labeltune.catalog import load_catalog

    table = load_price_table(environ={})
    catalogued = {m.model for m in load_catalog(environ={}).models if m.provider == "bedrock"}
    assert catalogued == set(NOVA_MODELS) == set(table.bedrock)
    for model in NOVA_MODELS:
        found = table.bedrock_prices(model)
        assert found is not None and found[0] == model
        entry = found[1]
        assert entry.source and entry.as_of and entry.inference_priced_as
        assert entry.inference_input_per_1m_tokens and entry.inference_output_per_1m_tokens


def test_unpublished_nova_prices_are_null_with_a_note_never_zero() -> None:
    for model, entry in load_price_table(environ={}).bedrock.items():
        assert entry.training_per_1m_tokens is None and entry.storage_per_month is None, model
        assert "not published" in entry.note


@pytest.mark.parametrize(
    "model,prices",
    [
        ("amazon.nova-micro-v1:0:128k", (0.035, 0.14)),
        ("amazon.nova-lite-v1:0:300k", (0.06, 0.24)),
        ("amazon.nova-pro-v1:0:300k", (0.8, 3.2)),
        ("amazon.nova-2-lite-v1:0:256k", (0.33, 2.75)),
    ],
)
def test_on_demand_prices_as_read(model: str, prices: tuple[float, float]) -> None:
    entry = load_price_table(environ={}).bedrock[model]
    assert (entry.inference_input_per_1m_tokens, entry.inference_output_per_1m_tokens) == prices


def test_a_table_without_bedrock_entries_still_loads(tmp_path: Path) -> None:
    custom = tmp_path / "prices.json"
    custom.write_text(json.dumps({"source": "ours", "as_of": "2026", "training_per_1m_tokens": {"m": 1.0}}))
    table = load_price_table(custom)
    assert table.bedrock == {} and table.bedrock_prices("amazon.nova-micro-v1:0:128k") is None


@pytest.mark.parametrize(
    "entry",
    [
        {"training_per_1m_tokens": -1, "storage_per_month": None},  # negative
        {"training_per_1m_tokens": None},  # a price left out rather than written as null
        {"training_per_1m_tokens": None, "storage_per_month": None, "surprise": 1},
    ],
)
def test_a_broken_bedrock_entry_is_a_clear_error(entry: dict, tmp_path: Path) -> None:
    full = {
        "inference_input_per_1m_tokens": 0.035,
        "inference_output_per_1m_tokens": 0.14,
        "source": "x",
        "as_of": "2026",
        **entry,
    }
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"source": "x", "as_of": "x", "training_per_1m_tokens": {}, "bedrock": {"amazon.nova-x": full}})
    )
    with pytest.raises(PriceTableError, match="price table"):
        load_price_table(path)
