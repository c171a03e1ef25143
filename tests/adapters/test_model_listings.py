"""The providers' model listings: OpenAI's `GET /v1/models` against the OpenAI emulator, Bedrock's
ListFoundationModels against the Bedrock emulator and botocore's Stubber, and the per-container cache that
keeps an answer for an hour and falls back to the catalog file (logging the provider and the error class
only) when a provider cannot be asked. The clock is always the test's."""

from __future__ import annotations

import logging
import socket
import urllib.error
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from labeltune.adapters.bedrock_models import BedrockModelListing, live_model
from labeltune.adapters.cached_listings import LISTING_TTL, RETRY_AFTER, CachedListings
from labeltune.adapters.openai_models import ListingError, OpenAIModelListing, live_models
from labeltune.catalog import load_catalog
from labeltune.catalog.live import LiveModel, merge_live
from labeltune_tools.bedrock_emulator import BedrockEmulator
from labeltune_tools.emulator import OpenAIEmulator
from tests.bedrock_emulator.shape_check import verify_exchange

START = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TODAY = START.date()
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA = ["amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k"]
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Listing:
    """A listing that answers what it is given (or raises it) and counts the times it was asked."""

    def __init__(self, provider: str, answer: dict[str, LiveModel] | Exception) -> None:
        self.provider = provider
        self.answer = answer
        self.asked = 0

    def list_model_dates(self) -> dict[str, LiveModel]:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return dict(self.answer)


# -- OpenAI ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_emulator() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(job_duration_seconds=60) as running:
        yield running


def test_openai_lists_what_the_account_sees_with_shutdown_dates(openai_emulator: OpenAIEmulator) -> None:
    listed = OpenAIModelListing(lambda: "sk-test", openai_emulator.base_url).list_model_dates()
    # The emulator serves three snapshots and their aliases, each shutting down on 2027-01-14 (as OpenAI says).
    assert {"gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", "gpt-4o-mini-2024-07-18"} <= set(listed)
    assert listed["gpt-4.1-mini-2025-04-14"] == LiveModel(shutdown=date(2027, 1, 14))

    merged = merge_live(load_catalog(), {"openai": listed}, TODAY)
    assert merged.check("openai", "gpt-4.1-mini", TODAY).trainable
    # The packaged catalog's gpt-4o-2024-08-06 is not served by the emulator: for this "account", it is refused.
    assert merged.check("openai", "gpt-4o-2024-08-06", TODAY).problems == (
        "gpt-4o-2024-08-06 cannot be fine-tuned now: OpenAI does not list it for this account (GET /v1/models)",
    )


@pytest.mark.parametrize("status", [401, 429, 500])
def test_an_openai_error_answer_raises(openai_emulator: OpenAIEmulator, status: int) -> None:
    openai_emulator.faults.fail_next(1, status=status, path_prefix="/v1/models")
    with pytest.raises(urllib.error.HTTPError):
        OpenAIModelListing(lambda: "sk-test", openai_emulator.base_url).list_model_dates()


def test_openai_without_a_key_or_a_server_raises(openai_emulator: OpenAIEmulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:  # the emulator, like OpenAI, wants a bearer token
        OpenAIModelListing(lambda: "", openai_emulator.base_url).list_model_dates()
    assert refused.value.code == 401
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}/v1"
    with pytest.raises(urllib.error.URLError):
        OpenAIModelListing(lambda: "sk-test", closed, timeout_seconds=1).list_model_dates()
    with pytest.raises(ValueError, match="http"):
        OpenAIModelListing(lambda: "sk-test", "file:///etc").list_model_dates()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"object": "list"},
        {"data": [{"object": "model"}]},
        {"data": [{"id": "gpt-4.1-mini", "shutdown_date": 20270114}]},
        {"data": [{"id": "gpt-4.1-mini", "shutdown_date": "soon"}]},
    ],
)
def test_an_answer_not_in_the_specs_shape_is_refused(body: Any) -> None:
    with pytest.raises(ListingError):
        live_models(body)


def test_a_shutdown_date_is_read_as_a_date_and_null_as_none() -> None:
    body = {"data": [{"id": "a", "shutdown_date": "2026-10-23"}, {"id": "b", "shutdown_date": None}, {"id": "c"}]}
    assert live_models(body) == {"a": LiveModel(shutdown=date(2026, 10, 23)), "b": LiveModel(), "c": LiveModel()}


# -- Bedrock --------------------------------------------------------------------------------------------------


@pytest.fixture
def bedrock_emulator() -> Iterator[BedrockEmulator]:
    """A Bedrock emulator whose every answer is checked against botocore's service model at the end."""
    with BedrockEmulator() as running:
        yield running
        problems = [problem for exchange in running.exchanges for problem in verify_exchange(exchange)]
    assert problems == []


def test_bedrock_lists_the_customizable_models_with_their_lifecycle(bedrock_emulator: BedrockEmulator) -> None:
    listing = BedrockModelListing(bedrock_emulator.client("bedrock", config=NO_RETRIES))
    listed = listing.list_model_dates()
    assert [*listed] == [*NOVA, "amazon.nova-2-lite-v1:0:256k"]
    assert set(listed.values()) == {LiveModel()}

    legacy = datetime(2026, 9, 1, 23, 30, tzinfo=UTC)
    bedrock_emulator.set_model_lifecycle(
        NOVA_MICRO, "LEGACY", legacy_time=legacy.timestamp(), end_of_life_time=legacy.timestamp() + 180 * 86400
    )
    assert listing.list_model_dates()[NOVA_MICRO] == LiveModel(
        legacy=True, training_closes=date(2026, 9, 1), shutdown=date(2027, 2, 28)
    )
    merged = merge_live(load_catalog(), {"bedrock": listing.list_model_dates()}, TODAY)
    assert merged.check("bedrock", NOVA_MICRO, TODAY).problems == (
        "bedrock stopped accepting new fine-tuning jobs on 2026-09-01",
    )
    assert merged.check("bedrock", "amazon.nova-lite-v1:0:300k", TODAY).trainable


def test_a_bedrock_error_raises_and_the_cache_falls_back(bedrock_emulator: BedrockEmulator) -> None:
    bedrock_emulator.faults.fail_next(1, error="AccessDeniedException", operation="ListFoundationModels")
    listing = BedrockModelListing(bedrock_emulator.client("bedrock", config=NO_RETRIES))
    with pytest.raises(ClientError):
        listing.list_model_dates()
    bedrock_emulator.faults.fail_next(1, error="ThrottlingException", operation="ListFoundationModels")
    clock = Clock()
    cached = CachedListings([listing], clock)
    assert cached.current() == {}
    clock.now += RETRY_AFTER
    assert set(cached.current()["bedrock"]) == {*NOVA, "amazon.nova-2-lite-v1:0:256k"}


def _stubbed(response: dict[str, Any] | None = None, error: str | None = None) -> Any:
    client = boto3.client("bedrock", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    expected = {"byCustomizationType": "FINE_TUNING"}
    if error is not None:
        stubber.add_client_error("list_foundation_models", service_error_code=error, http_status_code=400)
    else:
        stubber.add_response("list_foundation_models", response, expected)
    stubber.activate()
    return client


def _summary(model_id: str, customizations: list[str], lifecycle: dict[str, Any]) -> dict[str, Any]:
    return {
        "modelArn": f"arn:aws:bedrock:eu-west-1::foundation-model/{model_id}",
        "modelId": model_id,
        "customizationsSupported": customizations,
        "modelLifecycle": lifecycle,
    }


def test_bedrock_lifecycle_as_stubbed_per_region() -> None:
    response = {
        "modelSummaries": [
            _summary(NOVA_MICRO, ["FINE_TUNING"], {"status": "LEGACY"}),
            _summary("amazon.nova-lite-v1:0:300k", ["CONTINUED_PRE_TRAINING"], {"status": "ACTIVE"}),
            _summary(
                "amazon.nova-pro-v1:0:300k",
                ["FINE_TUNING"],
                {"status": "ACTIVE", "legacyTime": datetime(2027, 5, 1, tzinfo=UTC)},
            ),
        ]
    }
    listed = BedrockModelListing(_stubbed(response)).list_model_dates()
    assert listed == {
        NOVA_MICRO: LiveModel(legacy=True),  # Legacy without a date: closed from the day of the check
        "amazon.nova-lite-v1:0:300k": LiveModel(listed=False),  # listed, but not for fine-tuning
        "amazon.nova-pro-v1:0:300k": LiveModel(training_closes=date(2027, 5, 1)),
    }
    merged = merge_live(load_catalog(), {"bedrock": listed}, TODAY)
    assert [m for m in NOVA if merged.check("bedrock", m, TODAY).trainable] == ["amazon.nova-pro-v1:0:300k"]
    # Not in this Region's listing at all: refused with the reason.
    assert "in this Region" in merged.check("bedrock", "amazon.nova-2-lite-v1:0:256k", TODAY).problems[0]


def test_a_summary_without_a_lifecycle_is_active() -> None:
    assert live_model({"modelId": NOVA_MICRO, "customizationsSupported": ["FINE_TUNING"]}) == LiveModel()


def test_a_stubbed_bedrock_error_falls_back_to_the_file() -> None:
    cached = CachedListings([BedrockModelListing(_stubbed(error="ValidationException"))], Clock())
    assert cached.current() == {}
    catalog = load_catalog()
    merged = merge_live(catalog, cached.current(), TODAY)
    assert merged.models == catalog.models


# -- the cache ------------------------------------------------------------------------------------------------


def test_an_answer_is_kept_for_an_hour_then_asked_again() -> None:
    listing, clock = Listing("openai", {"gpt-4.1-mini": LiveModel()}), Clock()
    cached = CachedListings([listing], clock)
    assert cached.current() == {"openai": {"gpt-4.1-mini": LiveModel()}}
    clock.now += LISTING_TTL - timedelta(seconds=1)
    listing.answer = {}
    assert cached.current() == {"openai": {"gpt-4.1-mini": LiveModel()}}
    assert listing.asked == 1
    clock.now += timedelta(seconds=1)
    assert cached.current() == {"openai": {}}
    assert listing.asked == 2


def test_a_failed_listing_falls_back_logs_no_content_and_is_retried_later(caplog: pytest.LogCaptureFixture) -> None:
    failing = Listing("openai", PermissionError("Incorrect API key provided: sk-secret-123"))
    working = Listing("bedrock", {NOVA_MICRO: LiveModel()})
    clock = Clock()
    cached = CachedListings([failing, working], clock)
    with caplog.at_level(logging.WARNING, logger="labeltune.adapters.cached_listings"):
        assert cached.current() == {"bedrock": {NOVA_MICRO: LiveModel()}}
    (record,) = caplog.records
    assert record.getMessage() == "model listing of openai failed (PermissionError): using the catalog file"
    assert (record.__dict__["provider"], record.__dict__["error_class"]) == ("openai", "PermissionError")
    assert "sk-secret" not in caplog.text

    clock.now += RETRY_AFTER - timedelta(seconds=1)
    cached.current()
    assert failing.asked == 1  # not asked again before RETRY_AFTER: an outage costs one slow request per period
    failing.answer = {"gpt-4.1-mini": LiveModel()}
    clock.now += timedelta(seconds=1)
    assert cached.current() == {"openai": {"gpt-4.1-mini": LiveModel()}, "bedrock": {NOVA_MICRO: LiveModel()}}
    assert working.asked == 1


def test_the_openai_key_is_read_only_when_the_listing_is_asked(openai_emulator: OpenAIEmulator) -> None:
    """A key not set yet (the placeholder secret) is one more failed listing, not an error of the catalog."""
    reads: list[str] = []

    def key() -> str:
        reads.append("read")
        raise LookupError("the OpenAI API key secret holds no key yet")

    clock = Clock()
    cached = CachedListings([OpenAIModelListing(key, openai_emulator.base_url)], clock)
    assert reads == []
    assert cached.current() == {}
    assert reads == ["read"]
