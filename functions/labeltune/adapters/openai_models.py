"""ModelListing on OpenAI's `GET /v1/models`: the models this account can use, with their `shutdown_date`.

One GET over the standard library, not the `openai` SDK: the functions that consult the catalog (the API,
ExportLabels) do not ship the SDK's layer, and the API function's package stays within its size target. It is
reached as the SDK reaches OpenAI (wiring.py): the same base URL (`OPENAI_BASE_URL`, else OpenAI's), the API
key from Secrets Manager as a bearer token, read when the listing is asked for (a key not yet set is one
more failed listing, and the catalog file stands). A short timeout and no retries: the answer is cached and
optional (`cached_listings.py`).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from labeltune.catalog.live import LiveModel

DEFAULT_BASE_URL = "https://api.openai.com/v1"
TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 8 * 1024 * 1024  # the full model list is tens of kilobytes


class ListingError(ValueError):
    """The answer is not a model list in the shape of OpenAI's spec (`ListModelsResponse`)."""


def _shutdown(value: Any) -> date | None:
    """`shutdown_date`: an ISO date, or null while none is announced."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ListingError("shutdown_date is neither a date nor null")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as error:
        raise ListingError("shutdown_date is not an ISO date") from error


def live_models(body: Any) -> dict[str, LiveModel]:
    """Model id -> what OpenAI says of it, from a `ListModelsResponse` body."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ListingError("the answer has no list of models")
    models: dict[str, LiveModel] = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ListingError("a model without an id")
        models[item["id"]] = LiveModel(shutdown=_shutdown(item.get("shutdown_date")))
    return models


class OpenAIModelListing:
    """The models OpenAI lists for the configured key, and their shutdown dates."""

    provider = "openai"

    def __init__(
        self,
        api_key: Callable[[], str],
        base_url: str | None = None,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._api_key = api_key
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = timeout_seconds

    def list_model_dates(self) -> dict[str, LiveModel]:
        if urlsplit(self._base_url).scheme not in ("http", "https"):
            raise ValueError("the OpenAI base URL is not http(s)")  # urlopen would also open file: URLs
        request = urllib.request.Request(
            f"{self._base_url}/models",
            headers={"Authorization": f"Bearer {self._api_key()}", "Accept": "application/json"},
            method="GET",
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ListingError("the model list is larger than any OpenAI sends")
        try:
            return live_models(json.loads(body))
        except json.JSONDecodeError as error:
            raise ListingError("the answer is not JSON") from error
