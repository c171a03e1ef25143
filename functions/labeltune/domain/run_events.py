"""Run status changes as the runs table's stream shows them, and what each one makes: an EventBridge event
other teams route (chat, ticketing) and the console's metrics.

Pure: a stream record comes in as its event name and its old and new images (plain values), so the rules
here are tested without AWS. A change is a record whose `status` differs between the images; a REMOVE, an
update that leaves the status alone and a status written twice are not changes, so nothing is counted twice.
The event carries ids and status words only, never a chat or an error message (which could quote one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labeltune.clock import parse_iso

EVENT_SOURCE = "labeltune"
EVENT_DETAIL_TYPE = "Run Status Change"

# The stages a run passes through, each ended by the next status (TRAINING is the wait for the fine-tune).
TIMED_STAGES = ("EXPORTING", "PREPARING", "TRAINING", "EVALUATING")
# A change into one of these counts one run in the metric named beside it.
COUNTED_STATUSES = {
    "STARTED": "RunsStarted",
    "SUCCEEDED": "RunsSucceeded",
    "FAILED": "RunsFailed",
    "CANCELLED": "RunsCancelled",
}
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
STAGE_DIMENSION = "Stage"


@dataclass(frozen=True)
class StatusChange:
    """One run moving from `previous_status` (None for a new run) to `status`, with the times that date it."""

    run_id: str
    project_id: str | None
    status: str
    previous_status: str | None
    status_changed_at: str | None
    previous_changed_at: str | None
    created_at: str | None
    error: str | None
    trained_tokens: int | None


@dataclass(frozen=True)
class MetricPoint:
    """One metric value; `dimensions` beyond the service dimension every labeltune metric has."""

    name: str
    unit: str  # a CloudWatch unit name: "Count", "Seconds"
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()


def _text(image: Mapping[str, Any], key: str) -> str | None:
    value = image.get(key)
    return str(value) if value is not None and value != "" else None


def status_change(event_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> StatusChange | None:
    """The change a stream record (INSERT / MODIFY / REMOVE with its images) stands for, or None when the
    run's status did not change (a REMOVE, an update of other attributes, the same status written again)."""
    if event_name == "REMOVE" or not new:
        return None
    old = old or {}
    status, previous = _text(new, "status"), _text(old, "status")
    if status is None or status == previous or not _text(new, "run_id"):
        return None
    tokens = new.get("trained_tokens")
    return StatusChange(
        run_id=str(new["run_id"]),
        project_id=_text(new, "project_id"),
        status=status,
        previous_status=previous,
        status_changed_at=_text(new, "status_changed_at"),
        previous_changed_at=_text(old, "status_changed_at"),
        created_at=_text(new, "created_at"),
        error=_text(new, "error") if status == "FAILED" else None,
        trained_tokens=int(tokens) if tokens is not None and _is_number(tokens) else None,
    )


def _is_number(value: Any) -> bool:
    """DynamoDB numbers come as Decimal (a stream image deserialized with boto3's TypeDeserializer)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str | bool)


def event_detail(change: StatusChange) -> dict[str, Any]:
    """The event's `detail`: ids and status words, as docs/operations.md documents them for rule authors."""
    detail: dict[str, Any] = {
        "run_id": change.run_id,
        "project_id": change.project_id,
        "status": change.status,
        "previous_status": change.previous_status,
        "status_changed_at": change.status_changed_at,
    }
    if change.error:
        detail["error"] = change.error
    return detail


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    elapsed = (parse_iso(end) - parse_iso(start)).total_seconds()
    return elapsed if elapsed >= 0 else None


def change_metrics(change: StatusChange) -> list[MetricPoint]:
    """What one change adds to the console: a count of the runs that reached a counted status, how long the
    stage it ends took (from the store's `status_changed_at` stamps), the whole run's duration when it ends,
    and the tokens a fine-tune trained on once training is over."""
    points: list[MetricPoint] = []
    counted = COUNTED_STATUSES.get(change.status)
    if counted:
        points.append(MetricPoint(counted, "Count", 1))
    if change.previous_status in TIMED_STAGES:
        took = _seconds(change.previous_changed_at, change.status_changed_at)
        if took is not None:
            stage = ((STAGE_DIMENSION, change.previous_status),)
            points.append(MetricPoint("StageDuration", "Seconds", took, stage))
    if change.status in FINAL_STATUSES:
        took = _seconds(change.created_at, change.status_changed_at)
        if took is not None:
            points.append(MetricPoint("RunDuration", "Seconds", took))
    if change.previous_status == "TRAINING" and change.trained_tokens is not None:
        points.append(MetricPoint("TrainedTokens", "Count", change.trained_tokens))
    return points
