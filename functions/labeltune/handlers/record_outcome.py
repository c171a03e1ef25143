"""RecordRunSuccess / RecordFineTuneFailure / RecordRunFailure states: close the run, free the project."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.domain.models import RunStatus
from labeltune.handlers.events import RecordOutcomeEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.outcome import record_outcome
from labeltune.pipeline.trigger import follow_up_run
from labeltune.wiring import services


@lambda_entry
@event_parser(model=RecordOutcomeEvent)
def handler(event: RecordOutcomeEvent, context: Any) -> dict:
    svc = services()
    result = record_outcome(event.run_id, RunStatus(event.outcome), svc.runs, event.error, event.cause)
    if event.project_id:
        result["follow_up_run_id"] = follow_up_run(event.run_id, event.project_id, svc.trigger)
    logger.info("run finished", extra={k: result.get(k) for k in ("run_id", "status", "error", "follow_up_run_id")})
    return result
