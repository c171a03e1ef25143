"""The runs table's stream, one batch at a time: every status change becomes an EventBridge event and the
console's metrics, in stream order.

A batch is sent in PutEvents requests of up to 10 events. When an event is refused (PutEvents' failed entries, or
the request failing), the batch stops there: its record and every later one are reported as failed, so Lambda
retries the stream from that record (ReportBatchItemFailures), and the metrics of a record are emitted only once
its event was accepted, so a retried record is not counted twice. Events are at least once: the accepted events
of a request that also had a refused one are sent again with the retry (a consumer keys them by run and status).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labeltune.domain.run_events import MetricPoint, StatusChange, change_metrics, event_detail, status_change
from labeltune.ports import RunEventBus

BATCH = 10


@dataclass(frozen=True)
class StreamRecord:
    """A runs-table stream record as plain values: its sequence number, INSERT/MODIFY/REMOVE and images."""

    sequence_number: str
    event_name: str
    old_image: Mapping[str, Any] | None
    new_image: Mapping[str, Any] | None


@dataclass
class Published:
    changes: list[StatusChange]
    failed: list[str]  # sequence numbers to report as batch item failures
    error: str | None = None  # the class of the exception a PutEvents request raised, if one did


def publish_status_changes(
    records: Sequence[StreamRecord], bus: RunEventBus, emit: Callable[[MetricPoint], None]
) -> Published:
    """Put an event for each status change of `records` and emit its metrics; what failed is to be retried."""
    pending = [(record, status_change(record.event_name, record.old_image, record.new_image)) for record in records]
    changed = [(record, change) for record, change in pending if change is not None]
    done: list[StatusChange] = []
    error = None
    for start in range(0, len(changed), BATCH):
        chunk = changed[start : start + BATCH]
        try:
            accepted = bus.put([(change.status_changed_at or "", event_detail(change)) for _, change in chunk])
        except Exception as failure:  # throttled, unreachable, denied: retried from this record like a refusal
            accepted, error = [False] * len(chunk), type(failure).__name__
        for (record, change), ok in zip(chunk, accepted, strict=True):
            if not ok:
                return Published(done, _from(records, record), error)
            for point in change_metrics(change):
                emit(point)
            done.append(change)
    return Published(done, [])


def _from(records: Sequence[StreamRecord], first: StreamRecord) -> list[str]:
    """The sequence numbers of `first` and every record after it."""
    index = next(i for i, record in enumerate(records) if record is first)
    return [record.sequence_number for record in records[index:]]
