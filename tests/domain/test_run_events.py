"""Which stream records are run status changes, and the event and metrics each one makes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labeltune.domain.run_events import MetricPoint, change_metrics, event_detail, status_change

T0 = "2026-09-15T09:00:00.000+00:00"


def _run(status: str | None, changed: str | None = T0, **extra: object) -> dict[str, object]:
    item: dict[str, object] = {"run_id": "run-1", "project_id": "proj-1", "created_at": T0, **extra}
    if status is not None:
        item["status"] = status
    if changed is not None:
        item["status_changed_at"] = changed
    return item


def test_a_new_run_is_a_change_from_nothing() -> None:
    change = status_change("INSERT", None, _run("STARTED"))
    assert change is not None
    assert event_detail(change) == {
        "run_id": "run-1",
        "project_id": "proj-1",
        "status": "STARTED",
        "previous_status": None,
        "status_changed_at": T0,
    }
    assert change_metrics(change) == [MetricPoint("RunsStarted", "Count", 1)]


@pytest.mark.parametrize(
    ("event_name", "old", "new"),
    [
        ("REMOVE", _run("FAILED"), None),  # a deleted run is not a status change
        ("MODIFY", _run("TRAINING"), _run("TRAINING", job_status="running")),  # another attribute
        ("MODIFY", _run("TRAINING"), _run("TRAINING", "2026-09-15T09:05:00.000+00:00")),  # the same status again
        ("INSERT", None, _run(None)),  # a record without a status
    ],
)
def test_what_is_not_a_status_change(event_name: str, old: dict | None, new: dict | None) -> None:
    assert status_change(event_name, old, new) is None


def test_leaving_a_stage_times_it_from_the_stores_stamps() -> None:
    old = _run("PREPARING", "2026-09-15T09:01:00.000+00:00")
    new = _run("TRAINING", "2026-09-15T09:03:30.000+00:00")
    change = status_change("MODIFY", old, new)
    assert change is not None
    assert change_metrics(change) == [MetricPoint("StageDuration", "Seconds", 150.0, (("Stage", "PREPARING"),))]


def test_the_end_of_training_counts_its_tokens_and_the_fine_tune_wait() -> None:
    old = _run("TRAINING", "2026-09-15T09:03:00.000+00:00")
    new = _run("EVALUATING", "2026-09-15T10:03:00.000+00:00", trained_tokens=Decimal("48210"))
    change = status_change("MODIFY", old, new)
    assert change is not None
    assert change_metrics(change) == [
        MetricPoint("StageDuration", "Seconds", 3600.0, (("Stage", "TRAINING"),)),
        MetricPoint("TrainedTokens", "Count", 48210),
    ]


def test_a_failed_run_carries_its_error_word_never_its_message() -> None:
    old = _run("EVALUATING", "2026-09-15T10:03:00.000+00:00")
    new = _run(
        "FAILED", "2026-09-15T10:13:00.000+00:00", error="States.Timeout", error_message="the output quoted a chat"
    )
    change = status_change("MODIFY", old, new)
    assert change is not None
    detail = event_detail(change)
    assert detail["error"] == "States.Timeout" and detail["previous_status"] == "EVALUATING"
    assert "the output quoted a chat" not in str(detail)
    assert change_metrics(change) == [
        MetricPoint("RunsFailed", "Count", 1),
        MetricPoint("StageDuration", "Seconds", 600.0, (("Stage", "EVALUATING"),)),
        MetricPoint("RunDuration", "Seconds", 4380.0),
    ]


@pytest.mark.parametrize(("status", "metric"), [("SUCCEEDED", "RunsSucceeded"), ("CANCELLED", "RunsCancelled")])
def test_each_final_status_counts_the_run_and_its_duration(status: str, metric: str) -> None:
    change = status_change("MODIFY", _run("STARTED"), _run(status, "2026-09-15T09:00:42.000+00:00"))
    assert change is not None
    # STARTED is the queue before the export: not one of the timed stages.
    assert change_metrics(change) == [MetricPoint(metric, "Count", 1), MetricPoint("RunDuration", "Seconds", 42.0)]
    assert "error" not in event_detail(change)


def test_a_record_written_before_status_changed_at_existed_still_makes_its_event() -> None:
    change = status_change("MODIFY", _run("EXPORTING", None), _run("PREPARING", None))
    assert change is not None and change.status_changed_at is None
    assert change_metrics(change) == []  # nothing to time it by: no made-up duration
    assert event_detail(change)["status"] == "PREPARING"
