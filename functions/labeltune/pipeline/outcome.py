"""Record how a run ended. Failures keep the provider's or the step's own message."""

from __future__ import annotations

import json

from labeltune.clock import now_iso
from labeltune.domain.models import RunStatus
from labeltune.ports import RunStore

MAX_MESSAGE = 1000


def failure_message(cause: str | None) -> str | None:
    """Step Functions hands a Lambda error's Cause as JSON ({errorMessage, errorType, stackTrace}):
    keep the message, drop the stack trace."""
    if not cause:
        return None
    try:
        parsed = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause[:MAX_MESSAGE]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:MAX_MESSAGE]
    return cause[:MAX_MESSAGE]


def record_outcome(
    run_id: str, outcome: RunStatus, runs: RunStore, error: str | None = None, cause: str | None = None
) -> dict[str, str | None]:
    message = failure_message(cause)
    runs.update_run(run_id, status=outcome.value, finished_at=now_iso(), error=error, error_message=message)
    return {"run_id": run_id, "status": outcome.value, "error": error, "error_message": message}


TERMINAL = {RunStatus.SUCCEEDED.value, RunStatus.FAILED.value}


def record_execution_end(run_id: str, status: str, runs: RunStore, cause: str | None = None) -> dict[str, str | None]:
    """An execution ended outside the state machine's own recording (timed out, aborted, or a recorder that
    failed): mark the run FAILED unless a recorder already closed it with a better message."""
    run = runs.get_run(run_id)
    if run is None or run.get("status") in TERMINAL:
        return {"run_id": run_id, "status": (run or {}).get("status"), "error": None, "error_message": None}
    return record_outcome(run_id, RunStatus.FAILED, runs, f"Execution{status.title().replace('_', '')}", cause)
