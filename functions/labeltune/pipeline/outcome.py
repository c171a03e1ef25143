"""Record how a run ended. Failures keep the provider's or the step's own message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from labeltune.clock import Clock, iso
from labeltune.domain.job_state import openai_job_state
from labeltune.domain.models import JobState, RunStatus
from labeltune.ports import FineTuneProvider, RunStore

MAX_MESSAGE = 1000
ProviderFactory = Callable[[], FineTuneProvider]


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
    run_id: str,
    outcome: RunStatus,
    runs: RunStore,
    clock: Clock,
    error: str | None = None,
    cause: str | None = None,
    provider: ProviderFactory | None = None,
) -> dict[str, Any]:
    """Close the run. A failed run's fine-tuning job, if it is still training, is cancelled: nothing would
    evaluate it, and it would go on billing."""
    message = failure_message(cause)
    cancelled = cancel_unfinished_job(run_id, runs, provider) if outcome is RunStatus.FAILED and provider else None
    runs.update_run(run_id, status=outcome.value, finished_at=iso(clock()), error=error, error_message=message)
    return {
        "run_id": run_id,
        "status": outcome.value,
        "error": error,
        "error_message": message,
        "job_cancelled": cancelled,
    }


def cancel_unfinished_job(run_id: str, runs: RunStore, provider: ProviderFactory) -> bool | None:
    """True when a job was cancelled, False when cancelling failed (recorded), None when there was none.
    The provider is built only when there is a job to cancel: a run that failed because the API key is
    missing must still be closed."""
    run = runs.get_run(run_id) or {}
    job_id = run.get("job_id")
    if not job_id or openai_job_state(str(run.get("job_status") or "")) is not JobState.PENDING:
        return None
    try:
        job = provider().cancel_job(job_id)
    except Exception as error:  # the run is closed either way; the operator sees why the job may still run
        runs.update_run(run_id, job_cancel_error=f"{type(error).__name__}: {error}"[:MAX_MESSAGE])
        return False
    runs.update_run(run_id, job_status=job.status, job_cancelled=True)
    return True


TERMINAL = {RunStatus.SUCCEEDED.value, RunStatus.FAILED.value}


def record_execution_end(
    run_id: str,
    status: str,
    runs: RunStore,
    clock: Clock,
    cause: str | None = None,
    provider: ProviderFactory | None = None,
) -> dict[str, Any]:
    """An execution ended outside the state machine's own recording (timed out, aborted, or a recorder that
    failed): mark the run FAILED unless a recorder already closed it with a better message."""
    run = runs.get_run(run_id)
    if run is None or run.get("status") in TERMINAL:
        return {"run_id": run_id, "status": (run or {}).get("status"), "error": None, "error_message": None}
    error = f"Execution{status.title().replace('_', '')}"
    return record_outcome(run_id, RunStatus.FAILED, runs, clock, error, cause, provider)
