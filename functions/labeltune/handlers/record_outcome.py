"""Close a run and free its project: called by the Record* states, and by EventBridge when an execution
ends without reaching them (timed out, aborted, or a recorder that failed), so a project is never left
blocked by a dead run."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.domain.models import RunStatus
from labeltune.handlers.events import RecordOutcomeEvent
from labeltune.handlers.execution_status import ExecutionStatusChange, RecordOutcomeInput
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.outcome import record_execution_end, record_outcome
from labeltune.pipeline.trigger import follow_up_run
from labeltune.wiring import services


@lambda_entry
@event_parser(model=RecordOutcomeInput)
def handler(event: ExecutionStatusChange | RecordOutcomeEvent, context: Any) -> dict:
    svc = services()
    if isinstance(event, ExecutionStatusChange):
        detail = event.detail
        run_id, project_id = detail.name, detail.project_id()
        result = record_execution_end(
            run_id, detail.status, svc.runs, svc.clock, detail.cause or detail.error, svc.fine_tuning, svc.serving
        )
    else:
        run_id, project_id = event.run_id, event.project_id
        outcome = RunStatus(event.outcome)
        store = svc.store if outcome is RunStatus.SUCCEEDED else None  # for the report of a succeeded run
        result = record_outcome(
            run_id,
            outcome,
            svc.runs,
            svc.clock,
            event.error,
            event.cause,
            svc.fine_tuning,
            svc.serving,
            svc.projects,
            store=store,
        )
    if project_id:
        try:
            result["follow_up_run_id"] = follow_up_run(run_id, project_id, svc.trigger)
        except Exception as error:
            # The run is closed and its project freed; a follow-up that could not start leaves its events
            # pending for the next delivery. Failing here would rewrite a succeeded run as failed.
            logger.exception("follow-up run not started", extra={"run_id": run_id})
            result["follow_up_error"] = type(error).__name__
    logged = ("run_id", "status", "error", "follow_up_run_id", "report_key", "report_error")  # ids and class names
    logger.info("run finished", extra={k: result.get(k) for k in logged})
    return result
