"""OpenAI's webhooks, verified by the SDK (`client.webhooks.unwrap`: Standard Webhooks signatures, 300 s
tolerance), reduced to what the pipeline reads from them: the event type and the fine-tuning job's id.

Dispatch is on the `type` string, not the event class: `unwrap` builds any validly signed JSON as the first
class of its union, so an unknown type must not be mistaken for a known one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from openai import OpenAI

FINE_TUNING_EVENTS = frozenset({"fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled"})


class WebhookRejected(Exception):
    """The delivery is not from OpenAI (no or wrong signature, a timestamp out of tolerance) or not JSON."""


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    type: str
    job_id: str | None  # set for fine-tuning events


class OpenAIWebhooks:
    def __init__(self, client: OpenAI, secret: Callable[[], str]) -> None:
        self._client = client
        self._secret = secret  # read per delivery (cached by Powertools): a rotated secret is picked up

    def verify(self, body: str, headers: Mapping[str, str]) -> WebhookEvent:
        try:
            event = self._client.webhooks.unwrap(body, dict(headers), secret=self._secret())
        except ValueError as error:  # InvalidWebhookSignatureError, missing headers, a body that is not JSON
            raise WebhookRejected(str(error)) from error
        job_id = None
        if event.type in FINE_TUNING_EVENTS:
            job_id = getattr(getattr(event, "data", None), "id", None)
        return WebhookEvent(event_id=str(getattr(event, "id", "")), type=str(event.type), job_id=job_id)
