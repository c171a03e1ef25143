"""RecordOutcome's input: a Record* state's (`events.RecordOutcomeEvent`), or EventBridge's "Step Functions
Execution Status Change" for an execution that ended without reaching one (template.yaml's ExecutionEndedBadly
rule). Apart from events.py, so only RecordOutcome builds Powertools' EventBridge model at its cold start.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models.event_bridge import EventBridgeModel
from pydantic import BaseModel, Discriminator, Tag

from labeltune.handlers.events import RecordOutcomeEvent


class ExecutionStatusDetail(BaseModel):
    """The `detail` of Step Functions' "Execution Status Change" event (the fields this function reads)."""

    name: str  # the execution name: the run id
    status: str
    input: str | None = None  # the execution's input, a JSON string
    cause: str | None = None
    error: str | None = None

    def project_id(self) -> str | None:
        try:
            value = json.loads(self.input or "{}").get("project_id")
        except (json.JSONDecodeError, AttributeError):
            return None
        return str(value) if value else None


class ExecutionStatusChange(EventBridgeModel):
    """EventBridge "Step Functions Execution Status Change" for an execution that ended badly (template.yaml's
    rule matches FAILED, TIMED_OUT and ABORTED executions of the pipeline)."""

    detail: ExecutionStatusDetail


def _record_outcome_source(event: Any) -> str:
    """EventBridge events carry `detail-type`; the Record* states send the run's fields."""
    if isinstance(event, dict):
        return "execution-status-change" if "detail-type" in event else "record-state"
    return "execution-status-change" if isinstance(event, ExecutionStatusChange) else "record-state"


RecordOutcomeInput = Annotated[
    Annotated[ExecutionStatusChange, Tag("execution-status-change")]
    | Annotated[RecordOutcomeEvent, Tag("record-state")],
    Discriminator(_record_outcome_source),
]
"""What RecordOutcome is invoked with: a Record* state's input, or EventBridge's execution status change."""
