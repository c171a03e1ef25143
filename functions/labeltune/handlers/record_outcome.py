"""Close a run and free its project: called by the Record* states, and by EventBridge when an execution
ends without reaching them (timed out, aborted, or a recorder that failed), so a project is never left
blocked by a dead run."""

from typing import Any

from labeltune.domain.models import RunStatus
from labeltune.handlers.events import ExecutionStatusChange, RecordOutcomeEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.outcome import record_execution_end, record_outcome
from labeltune.pipeline.trigger import follow_up_run
from labeltune.wiring import services


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict:
    svc = services()
    if "detail-type" in event:
        detail = ExecutionStatusChange.model_validate(event).detail
        run_id, project_id = detail.name, detail.project_id()
        result = record_execution_end(
            run_id, detail.status, svc.runs, svc.clock, detail.cause or detail.error, lambda: svc.openai
        )
    else:
        step = RecordOutcomeEvent.model_validate(event)
        run_id, project_id = step.run_id, step.project_id
        result = record_outcome(
            run_id, RunStatus(step.outcome), svc.runs, svc.clock, step.error, step.cause, lambda: svc.openai
        )
    if project_id:
        try:
            result["follow_up_run_id"] = follow_up_run(run_id, project_id, svc.trigger)
        except Exception as error:
            # The run is closed and its project freed; a follow-up that could not start leaves its events
            # pending for the next delivery. Failing here would rewrite a succeeded run as failed.
            logger.exception("follow-up run not started", extra={"run_id": run_id})
            result["follow_up_error"] = type(error).__name__
    logger.info("run finished", extra={k: result.get(k) for k in ("run_id", "status", "error", "follow_up_run_id")})
    return result
