"""RunEventBus on EventBridge: run status changes as "Run Status Change" events on the account's default bus."""

from __future__ import annotations

import json
from typing import Any

import boto3

from labeltune.clock import parse_iso
from labeltune.domain.run_events import EVENT_DETAIL_TYPE, EVENT_SOURCE

MAX_ENTRIES = 10  # PutEvents takes at most 10 entries per request


class EventBridgeRunEvents:
    def __init__(self, client: Any | None = None, bus_name: str = "default") -> None:
        self._client = client or boto3.client("events")
        self._bus = bus_name

    def put(self, details: list[tuple[str, dict[str, Any]]]) -> list[bool]:
        """One PutEvents request; PutEvents answers 200 with FailedEntryCount when some entries were refused,
        so each entry's own result says whether it was accepted (an entry with an ErrorCode was not)."""
        if len(details) > MAX_ENTRIES:
            raise ValueError(f"PutEvents takes at most {MAX_ENTRIES} entries, not {len(details)}")
        if not details:
            return []
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail, separators=(",", ":")),
                "EventBusName": self._bus,
                **({"Time": parse_iso(time)} if time else {}),
            }
            for time, detail in details
        ]
        answer = self._client.put_events(Entries=entries)
        results = answer.get("Entries", [])
        if not answer.get("FailedEntryCount"):
            return [True] * len(entries)
        return [i < len(results) and not results[i].get("ErrorCode") for i in range(len(entries))]
