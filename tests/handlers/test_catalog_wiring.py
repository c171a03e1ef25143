"""What `Services.catalog` hands the handlers: the file alone, or with LIVE_MODEL_CATALOG the file merged with
the providers' listings (stubbed here: the adapters have their own tests), asked once per cache period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from labeltune.adapters.bedrock_models import BedrockModelListing
from labeltune.adapters.openai_models import OpenAIModelListing
from labeltune.catalog import load_catalog
from labeltune.catalog.live import LiveModel, LiveModelCatalog
from labeltune.settings import Settings
from labeltune.wiring import Services

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
GPT_4O = "gpt-4o-2024-08-06"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
ENVIRONMENT = {"TABLE_NAME": "runs", "BUCKET_NAME": "artifacts"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Both listings stubbed: OpenAI announces a shutdown for gpt-4o the file lacks, Bedrock lists Nova Micro."""
    calls: list[str] = []
    openai = {entry.model: LiveModel() for entry in load_catalog().models if entry.provider == "openai"}

    def openai_models(self: OpenAIModelListing) -> dict[str, LiveModel]:
        calls.append("openai")
        return {**openai, GPT_4O: LiveModel(shutdown=date(2026, 12, 1))}

    def bedrock_models(self: BedrockModelListing) -> dict[str, LiveModel]:
        calls.append("bedrock")
        return {NOVA_MICRO: LiveModel()}

    monkeypatch.setattr(OpenAIModelListing, "list_model_dates", openai_models)
    monkeypatch.setattr(BedrockModelListing, "list_model_dates", bedrock_models)
    return calls


def test_live_listing_is_on_unless_switched_off(asked: list[str]) -> None:
    """Deployed, the providers' listings win; the local stack switches them off (its emulators stand in for
    models with the providers' real dates, and it trains on them at any date)."""
    assert Settings.from_env(ENVIRONMENT).live_model_catalog is True
    settings = Settings.from_env({**ENVIRONMENT, "LIVE_MODEL_CATALOG": "false"})
    assert settings.live_model_catalog is False
    catalog = Services(settings, clock=Clock()).catalog
    assert catalog is load_catalog() and not isinstance(catalog, LiveModelCatalog)
    assert asked == []


def test_switched_on_the_providers_answer_wins_and_is_cached(asked: list[str]) -> None:
    clock = Clock()
    services = Services(Settings.from_env({**ENVIRONMENT, "LIVE_MODEL_CATALOG": "true"}), clock=clock)
    catalog = services.catalog
    assert not catalog.check("openai", GPT_4O, TODAY).trainable  # shuts down 2026-12-01: too soon
    assert catalog.check("bedrock", NOVA_MICRO, TODAY).trainable
    assert not catalog.check("bedrock", "amazon.nova-lite-v1:0:300k", TODAY).trainable  # not listed
    services.catalog.check("openai", GPT_4O, TODAY)
    assert asked == ["openai", "bedrock"]  # once per container and hour, not once per request
    clock.now += timedelta(hours=1)
    services.catalog.check("openai", GPT_4O, TODAY)
    assert asked == ["openai", "bedrock", "openai", "bedrock"]


def test_a_listing_that_fails_leaves_that_provider_on_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(self: object) -> dict[str, LiveModel]:
        raise TimeoutError("no answer")

    monkeypatch.setattr(OpenAIModelListing, "list_model_dates", unreachable)
    monkeypatch.setattr(BedrockModelListing, "list_model_dates", lambda self: {NOVA_MICRO: LiveModel(legacy=True)})
    services = Services(Settings.from_env({**ENVIRONMENT, "LIVE_MODEL_CATALOG": "true"}), clock=Clock())
    catalog = services.catalog
    assert catalog.check("openai", GPT_4O, TODAY) == load_catalog().check("openai", GPT_4O, TODAY)
    assert not catalog.check("bedrock", NOVA_MICRO, TODAY).trainable
