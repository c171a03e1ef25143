"""The dated catalog of trainable models: what it refuses, what it warns about, and on which day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from labeltune.catalog import DEFAULT_CATALOG, MIN_LIFETIME, WARN_WITHIN, CatalogError, load_catalog
from labeltune_tools.bedrock_emulator.catalog import MODELS as NOVA_MODELS
from labeltune_tools.emulator.catalog import BASE_MODELS

CATALOG = load_catalog(DEFAULT_CATALOG)
LOCAL = Path(__file__).resolve().parents[2] / "tools" / "labeltune_tools" / "embedded" / "emulator_models.json"


def test_every_entry_names_its_source_and_the_provider_date_too() -> None:
    assert all(entry.source for entry in CATALOG.models)
    assert CATALOG.providers["openai"].training_closes == date(2027, 1, 6)
    assert "deprecations" in CATALOG.providers["openai"].source


@pytest.mark.parametrize(
    ("model", "on", "trainable"),
    [
        ("gpt-4.1-mini-2025-04-14", date(2026, 11, 29), True),
        ("gpt-4.1-mini", date(2026, 11, 29), True),  # an alias of the snapshot
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", date(2026, 11, 29), True),  # continue training a fine-tune
        ("gpt-4.1-mini-2025-04-14", date(2027, 1, 5), True),
        ("gpt-4.1-mini-2025-04-14", date(2027, 1, 6), False),  # OpenAI takes no new jobs from this day
        ("gpt-4o-2024-08-06", date(2027, 6, 1), False),
        ("gpt-4.1-nano-2025-04-14", date(2026, 10, 1), True),
        ("gpt-4.1-nano-2025-04-14", date(2026, 10, 20), False),  # shuts down before a run could finish
        ("gpt-4.1-nano-2025-04-14", date(2026, 10, 23), False),  # retired
        ("gpt-5", date(2026, 11, 29), False),  # not a fine-tunable model
        ("", date(2026, 11, 29), False),
    ],
)
def test_trainable_on_a_date(model: str, on: date, trainable: bool) -> None:
    assert CATALOG.check("openai", model, on).trainable is trainable


def test_a_model_that_shuts_down_before_a_run_could_finish_is_refused() -> None:
    shutdown = date(2027, 1, 14)
    verdict = CATALOG.check("openai", "gpt-4o-2024-08-06", date(2026, 11, 29))
    assert verdict.shutdown is None  # no date published: only the provider's closing date applies
    custom = CATALOG.model_copy(
        update={"models": tuple(m.model_copy(update={"shutdown": shutdown}) for m in CATALOG.models)}
    )
    close_call = shutdown - MIN_LIFETIME + date.resolution
    problems = custom.check("openai", "gpt-4o-2024-08-06", close_call).problems
    assert any("too soon" in problem for problem in problems)


def test_warnings_start_thirty_days_before_a_date() -> None:
    closes = date(2027, 1, 6)
    assert CATALOG.check("openai", "gpt-4.1-mini", closes - WARN_WITHIN - date.resolution).warnings == ()
    warnings = CATALOG.check("openai", "gpt-4.1-mini", closes - WARN_WITHIN).warnings
    assert any("2027-01-06 (in 30 days)" in warning for warning in warnings)


def test_an_unknown_provider_is_refused() -> None:
    assert not CATALOG.check("azure", "gpt-4.1-mini", date(2026, 11, 29)).trainable


def test_another_catalog_file_can_be_configured(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps({"as_of": "x", "providers": {"openai": {}}, "models": [{"provider": "openai", "model": "my-model"}]})
    )
    catalog = load_catalog(environ={"MODEL_CATALOG_FILE": str(path)})
    assert catalog.check("openai", "my-model", date(2030, 1, 1)).trainable
    with pytest.raises(CatalogError):
        load_catalog(tmp_path / "missing.json")


def test_the_local_stacks_catalog_lists_exactly_what_the_emulators_train_and_never_closes() -> None:
    local = load_catalog(LOCAL)
    served = {model.snapshot for model in BASE_MODELS.values()}
    assert {entry.model for entry in local.models if entry.provider == "openai"} == served
    assert all(local.check("openai", model, date(2040, 1, 1)).trainable for model in served)
    nova = {model.customizable_id for model in NOVA_MODELS}
    assert {entry.model for entry in local.models if entry.provider == "bedrock"} == nova
    assert all(local.check("bedrock", model, date(2040, 1, 1)).trainable for model in nova)


def test_the_bedrock_entries_agree_with_the_emulator_and_the_packaged_catalog() -> None:
    """Record bounds, validation support and the id the base model answers to: one set of facts in three places
    (the deployed catalog, the local one, the emulator that enforces them), checked to agree."""
    local, packaged = load_catalog(LOCAL), load_catalog()
    for nova in NOVA_MODELS:
        for catalog in (local, packaged):
            entry = catalog.entry("bedrock", nova.customizable_id)
            assert entry is not None, nova.name
            assert (entry.min_records, entry.max_records) == (nova.min_records, nova.max_records), nova.name
            assert entry.validation_set == nova.uses_validation_data, nova.name
            assert entry.inference_model is not None and entry.inference_model.endswith(nova.on_demand_id)
