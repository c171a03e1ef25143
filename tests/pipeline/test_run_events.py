"""A stream batch to events and metrics: in order, at most 10 events a request, retried from the first refusal."""

from __future__ import annotations

from typing import Any

from labeltune.domain.run_events import MetricPoint
from labeltune.pipeline.run_events import StreamRecord, publish_status_changes

T0 = "2026-09-15T09:00:00.000+00:00"


class RecordingBus:
    """The RunEventBus contract: one request of at most 10 events, each accepted or refused on its own."""

    def __init__(self, refuse: set[str] | None = None, fail_requests: int = 0) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.refuse = refuse or set()
        self.fail_requests = fail_requests

    def put(self, details: list[tuple[str, dict[str, Any]]]) -> list[bool]:
        assert len(details) <= 10
        if self.fail_requests:
            self.fail_requests -= 1
            raise ConnectionError("unreachable")
        self.requests.append([detail for _, detail in details])
        return [detail["run_id"] not in self.refuse for _, detail in details]


def _record(seq: int, run_id: str, old: str | None, new: str | None, event: str = "MODIFY") -> StreamRecord:
    def image(status: str | None) -> dict[str, Any] | None:
        if status is None:
            return None
        return {"run_id": run_id, "project_id": "p", "status": status, "status_changed_at": T0, "created_at": T0}

    return StreamRecord(str(seq), event, image(old), image(new))


def test_changes_become_events_in_stream_order_and_the_rest_is_skipped() -> None:
    records = [
        _record(1, "a", None, "STARTED", "INSERT"),
        _record(2, "a", "STARTED", "STARTED"),  # written twice
        _record(3, "a", "STARTED", "EXPORTING"),
        _record(4, "a", "EXPORTING", None, "REMOVE"),
    ]
    bus, emitted = RecordingBus(), list[MetricPoint]()
    published = publish_status_changes(records, bus, emitted.append)
    assert [[d["status"] for d in request] for request in bus.requests] == [["STARTED", "EXPORTING"]]
    assert published.failed == []
    assert emitted == [MetricPoint("RunsStarted", "Count", 1)]


def test_a_batch_of_25_changes_goes_in_requests_of_10() -> None:
    records = [_record(i, f"run-{i}", None, "STARTED", "INSERT") for i in range(25)]
    bus, emitted = RecordingBus(), list[MetricPoint]()
    publish_status_changes(records, bus, emitted.append)
    assert [len(request) for request in bus.requests] == [10, 10, 5]
    assert len(emitted) == 25


def test_a_refused_event_fails_its_record_and_every_later_one_and_counts_only_what_went_before() -> None:
    records = [_record(i, f"run-{i}", None, "STARTED", "INSERT") for i in range(14)]
    bus, emitted = RecordingBus(refuse={"run-3"}), list[MetricPoint]()
    published = publish_status_changes(records, bus, emitted.append)
    assert published.failed == [str(i) for i in range(3, 14)]
    assert len(emitted) == 3  # the retried records are counted when their events are accepted
    assert len(bus.requests) == 1  # nothing more is sent once one is refused


def test_a_request_that_raises_is_retried_from_its_first_record() -> None:
    records = [_record(1, "a", None, "STARTED", "INSERT"), _record(2, "a", "STARTED", "EXPORTING")]
    emitted: list[MetricPoint] = []
    published = publish_status_changes(records, RecordingBus(fail_requests=1), emitted.append)
    assert published.failed == ["1", "2"] and published.error == "ConnectionError"
    assert emitted == []
