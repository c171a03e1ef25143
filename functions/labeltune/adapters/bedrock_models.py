"""ModelListing on Bedrock's `ListFoundationModels(byCustomizationType=FINE_TUNING)`: the base models this
Region fine-tunes now, with their lifecycle.

A LEGACY model takes no new fine-tuning jobs (Bedrock "Model lifecycle"): it is listed as closed from its
`legacyTime` (or from the day of the check, when Bedrock gives none); `endOfLifeTime` is its shutdown. The
lifecycle differs per Region, and the Region asked is the function's own, where its jobs are created. The ids
listed are the customizable variants with their context length (`amazon.nova-micro-v1:0:128k`), the ids the
catalog trains with; how other forms match is `catalog/live.py`'s rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from labeltune.catalog.live import LiveModel

FINE_TUNING = "FINE_TUNING"
# Short and retried once: the answer is cached and optional (cached_listings.py), and it is asked for in the
# middle of an API request.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 2


def _day(moment: Any) -> date | None:
    """A botocore timestamp (an aware datetime) as its UTC day."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise ValueError("a lifecycle time that is not a timestamp")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def live_model(summary: dict[str, Any]) -> LiveModel:
    """What one `FoundationModelSummary` says of fine-tuning its model."""
    lifecycle = summary.get("modelLifecycle") or {}
    return LiveModel(
        listed=FINE_TUNING in (summary.get("customizationsSupported") or ()),
        shutdown=_day(lifecycle.get("endOfLifeTime")),
        training_closes=_day(lifecycle.get("legacyTime")),
        legacy=lifecycle.get("status") == "LEGACY",
    )


def listing_client() -> Any:
    """A `bedrock` client for listing: the function's Region and credentials, short timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client("bedrock", config=config)


class BedrockModelListing:
    """The base models Bedrock fine-tunes in this Region, and their lifecycle dates."""

    provider = "bedrock"

    def __init__(self, client: Any | None = None) -> None:
        self._client = client  # built at the first listing, so building it cannot fail outside one

    def list_model_dates(self) -> dict[str, LiveModel]:
        if self._client is None:
            self._client = listing_client()
        response = self._client.list_foundation_models(byCustomizationType=FINE_TUNING)
        return {summary["modelId"]: live_model(summary) for summary in response.get("modelSummaries", [])}
