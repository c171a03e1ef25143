"""The providers' listings merged over the dated catalog: the live answer wins over the file, never widens it."""

from __future__ import annotations

from datetime import date

import pytest

from labeltune.catalog import DEFAULT_CATALOG, MIN_LIFETIME, WARN_WITHIN, load_catalog
from labeltune.catalog.live import LiveModel, LiveModelCatalog, merge_live

CATALOG = load_catalog(DEFAULT_CATALOG)
TODAY = date(2026, 11, 29)
GPT_4O = "gpt-4o-2024-08-06"  # no shutdown date in the file
GPT_41_MINI = "gpt-4.1-mini-2025-04-14"  # shuts down 2027-01-14 in the file
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
OPENAI_MODELS = {m.model: LiveModel() for m in CATALOG.models if m.provider == "openai"}
NOVA_MODELS = {m.model: LiveModel() for m in CATALOG.models if m.provider == "bedrock"}


def openai_listing(**changes: LiveModel) -> dict[str, dict[str, LiveModel]]:
    return {"openai": {**OPENAI_MODELS, **changes}}


def test_a_shutdown_date_the_file_lacks_refuses_and_warns_before() -> None:
    shutdown = date(2026, 12, 20)
    merged = merge_live(CATALOG, openai_listing(**{GPT_4O: LiveModel(shutdown=shutdown)}), TODAY)
    assert CATALOG.check("openai", GPT_4O, TODAY).warnings == ()
    assert merged.check("openai", GPT_4O, TODAY).warnings == (f"{GPT_4O} shuts down on 2026-12-20 (in 21 days)",)
    assert merged.check("openai", GPT_4O, shutdown - MIN_LIFETIME + date.resolution).trainable is False
    assert merged.check("openai", GPT_4O, shutdown).problems[0] == f"{GPT_4O} was shut down by openai on 2026-12-20"


def test_the_providers_date_replaces_the_files_but_no_date_leaves_it() -> None:
    later = date(2027, 6, 30)
    merged = merge_live(CATALOG, openai_listing(**{GPT_41_MINI: LiveModel(shutdown=later)}), TODAY)
    assert merged.check("openai", GPT_41_MINI, TODAY).shutdown == later
    # Listed with shutdown_date null: "not announced" is not "withdrawn", the file's 2027-01-14 stands.
    unannounced = merge_live(CATALOG, openai_listing(**{GPT_41_MINI: LiveModel()}), TODAY)
    assert unannounced.check("openai", GPT_41_MINI, TODAY).shutdown == date(2027, 1, 14)
    # The provider-wide closing date of the file still applies to every listed model.
    assert not merged.check("openai", GPT_41_MINI, date(2027, 1, 6)).trainable


def test_a_model_the_listing_lacks_is_refused_with_the_reason() -> None:
    listing = {name: live for name, live in OPENAI_MODELS.items() if name != GPT_4O}
    merged = merge_live(CATALOG, {"openai": listing}, TODAY)
    verdict = merged.check("openai", GPT_4O, TODAY)
    assert verdict.problems == (
        f"{GPT_4O} cannot be fine-tuned now: OpenAI does not list it for this account (GET /v1/models)",
    )
    assert GPT_4O not in merged.trainable_models("openai", TODAY)
    assert not merged.check("openai", f"ft:{GPT_4O}:acme::abc123", TODAY).trainable  # a fine-tune of it too
    assert merged.check("openai", GPT_41_MINI, TODAY).trainable


def test_an_alias_in_the_listing_stands_for_its_snapshot() -> None:
    shutdown = date(2026, 12, 1)
    listing = {name: live for name, live in OPENAI_MODELS.items() if name != GPT_41_MINI}
    merged = merge_live(CATALOG, {"openai": {**listing, "gpt-4.1-mini": LiveModel(shutdown=shutdown)}}, TODAY)
    assert merged.check("openai", "gpt-4.1-mini", TODAY).shutdown == shutdown
    assert not merged.check("openai", GPT_41_MINI, TODAY).trainable  # too soon for a run to finish


def test_a_model_the_provider_lists_but_the_file_lacks_stays_untrainable() -> None:
    merged = merge_live(CATALOG, openai_listing(**{"gpt-5-2026-01-01": LiveModel()}), TODAY)
    verdict = merged.check("openai", "gpt-5-2026-01-01", TODAY)
    assert not verdict.trainable and "not a model openai fine-tunes" in verdict.problems[0]
    assert {entry.model for entry in merged.models} == {entry.model for entry in CATALOG.models}


def test_an_empty_listing_refuses_all_and_a_provider_without_one_keeps_the_file() -> None:
    merged = merge_live(CATALOG, {"openai": {}}, TODAY)  # OpenAI lists nothing this account can use
    assert not merged.check("openai", GPT_41_MINI, TODAY).trainable
    for nova in NOVA_MODELS:
        assert merged.check("bedrock", nova, TODAY) == CATALOG.check("bedrock", nova, TODAY)
    assert merge_live(CATALOG, {}, TODAY).models == CATALOG.models


def test_the_rest_of_the_file_is_kept() -> None:
    merged = merge_live(CATALOG, {"bedrock": {NOVA_MICRO: LiveModel(shutdown=date(2027, 9, 1))}}, TODAY)
    assert isinstance(merged, LiveModelCatalog)
    entry = merged.entry("bedrock", NOVA_MICRO)
    original = CATALOG.entry("bedrock", NOVA_MICRO)
    assert entry is not None and original is not None
    assert entry.model_copy(update={"shutdown": None}) == original
    assert (merged.as_of, merged.providers, merged.path) == (CATALOG.as_of, CATALOG.providers, CATALOG.path)
    assert merged.entry("bedrock", "amazon.nova-lite-v1:0:300k") is not None  # refused, but still described


@pytest.mark.parametrize(
    ("live", "on", "trainable"),
    [
        (LiveModel(legacy=True), TODAY, False),  # Legacy without a date: closed from the day of the check
        (LiveModel(legacy=True, training_closes=date(2026, 9, 1)), TODAY, False),
        (LiveModel(legacy=True, training_closes=date(2027, 3, 1)), TODAY, False),  # Legacy now, whatever the date
        (LiveModel(training_closes=date(2027, 3, 1)), TODAY, True),  # Active, going Legacy later
        (LiveModel(training_closes=date(2027, 3, 1)), date(2027, 3, 1), False),
        (LiveModel(listed=False), TODAY, False),  # listed, but not customizable here
        (LiveModel(), TODAY, True),
    ],
)
def test_bedrock_lifecycle(live: LiveModel, on: date, trainable: bool) -> None:
    merged = merge_live(CATALOG, {"bedrock": {**NOVA_MODELS, NOVA_MICRO: live}}, on)
    assert merged.check("bedrock", NOVA_MICRO, on).trainable is trainable


def test_legacy_is_said_as_the_date_training_closed_and_warned_before() -> None:
    legacy = date(2026, 9, 1)
    merged = merge_live(CATALOG, {"bedrock": {NOVA_MICRO: LiveModel(legacy=True, training_closes=legacy)}}, TODAY)
    verdict = merged.check("bedrock", NOVA_MICRO, TODAY)
    assert verdict.training_closes == legacy
    assert verdict.problems[0] == "bedrock stopped accepting new fine-tuning jobs on 2026-09-01"
    going = merge_live(CATALOG, {"bedrock": {NOVA_MICRO: LiveModel(training_closes=TODAY + WARN_WITHIN)}}, TODAY)
    assert going.check("bedrock", NOVA_MICRO, TODAY).warnings == (
        "bedrock stops accepting new fine-tuning jobs on 2026-12-29 (in 30 days)",
    )


def test_a_bedrock_id_matches_with_its_context_suffix_or_without_it_not_with_another() -> None:
    refused = "Bedrock does not offer it for fine-tuning in this Region (ListFoundationModels)"
    bare = merge_live(CATALOG, {"bedrock": {"amazon.nova-micro-v1:0": LiveModel()}}, TODAY)
    assert bare.check("bedrock", NOVA_MICRO, TODAY).trainable
    other = merge_live(CATALOG, {"bedrock": {"amazon.nova-micro-v1:0:24k": LiveModel()}}, TODAY)
    assert other.check("bedrock", NOVA_MICRO, TODAY).problems == (f"{NOVA_MICRO} cannot be fine-tuned now: {refused}",)
    # The exact id wins over the bare one when both are listed.
    both = {"amazon.nova-micro-v1:0": LiveModel(listed=False), NOVA_MICRO: LiveModel()}
    assert merge_live(CATALOG, {"bedrock": both}, TODAY).check("bedrock", NOVA_MICRO, TODAY).trainable


def test_merging_again_keeps_earlier_refusals() -> None:
    once = merge_live(CATALOG, {"openai": {}}, TODAY)
    twice = merge_live(once, {"bedrock": {}}, TODAY)
    assert not twice.check("openai", GPT_4O, TODAY).trainable
    assert not twice.check("bedrock", NOVA_MICRO, TODAY).trainable
