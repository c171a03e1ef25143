"""The runs table's stream: every run status change as an EventBridge "Run Status Change" event on the default
bus, and the console's run metrics (RunsStarted/Succeeded/Failed/Cancelled, StageDuration by Stage, RunDuration,
TrainedTokens).

Lambda reads the stream in order per run; what could not be put is reported as batch item failures
(ReportBatchItemFailures), so Lambda retries from there, a bounded number of times before the batch's
description goes to the on-failure queue (template.yaml).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

from labeltune.adapters.dynamodb_runs import from_dynamo
from labeltune.handlers.console_metrics import emit
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.run_events import StreamRecord, publish_status_changes
from labeltune.wiring import services


def stream_records(event: dict[str, Any]) -> list[StreamRecord]:
    """The event's records as plain values (Powertools deserializes the images from DynamoDB JSON)."""
    records = []
    for record in DynamoDBStreamEvent(event).records:
        change = record.dynamodb
        if change is None or record.event_name is None:
            continue
        records.append(
            StreamRecord(
                sequence_number=str(change.sequence_number),
                event_name=record.event_name.name,
                old_image=from_dynamo(change.old_image) if change.old_image else None,
                new_image=from_dynamo(change.new_image) if change.new_image else None,
            )
        )
    return records


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    published = publish_status_changes(stream_records(event), services().run_events, emit)
    for change in published.changes:  # ids and status words only
        logger.info(
            "run status change",
            extra={"run_id": change.run_id, "status": change.status, "previous_status": change.previous_status},
        )
    if published.failed:
        logger.warning(
            "run events not put: retried from the first",
            extra={"failed": len(published.failed), "first": published.failed[0], "error": published.error},
        )
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in published.failed]}
