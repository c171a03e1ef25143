"""RecordRunSuccess / RecordFineTuneFailure / RecordRunFailure states: close the run record."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.domain.models import RunStatus
from labeltune.handlers.events import RecordOutcomeEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.outcome import record_outcome
from labeltune.wiring import services


@lambda_entry
@event_parser(model=RecordOutcomeEvent)
def handler(event: RecordOutcomeEvent, context: Any) -> dict:
    result = record_outcome(event.run_id, RunStatus(event.outcome), services().runs, event.error, event.cause)
    logger.info("run finished", extra={"run_id": event.run_id, "status": event.outcome, "error": event.error})
    return result
