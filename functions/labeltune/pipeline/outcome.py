"""Record how a run ended, and leave nothing behind at the provider: failures keep the provider's or the
step's own message; every job of the run still training is cancelled, every file it uploaded deleted and
whatever served its tuned model (a Bedrock deployment) deleted, whatever the outcome, unless its model was
promoted (it is its project's current model: pipeline/promotion.py) or the run succeeded and its project keeps
deployments. A promotion deletes what served the model it superseded.

Jobs and files are found at the provider by the run id (job metadata, file names), not only from the run
record: a job created just before a crash, whose id never reached the record, is cancelled too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from labeltune.clock import Clock, iso
from labeltune.domain.models import CANCELLED_ERROR, FINISHED_RUN_STATUSES, JobState, RunStatus
from labeltune.domain.project_config import LEGACY_PROVIDER
from labeltune.domain.promotions import PromotionChange
from labeltune.errors import RunClosed, TransientError
from labeltune.pipeline.promotion import gate_passed, keeps_every_deployment, promote, release_superseded
from labeltune.ports import FineTuneProvider, ModelServing, ObjectStore, ProjectStore, RunStore

MAX_MESSAGE = 1000
CLEANUP_ATTEMPTS = 3
# No new cleanup attempt starts after this long, so the step ends inside the function's timeout (600 s in
# template.yaml): one attempt is a few provider calls of at most 3 x PROVIDER_TIMEOUT_SECONDS (10 s there) each.
CLEANUP_BUDGET_SECONDS = 300.0
ProviderFactory = Callable[[str], FineTuneProvider]  # the run's provider by name -> its fine-tuning adapter
ServingFactory = Callable[[str], ModelServing]


def failure_message(cause: str | None) -> str | None:
    """Step Functions hands a Lambda error's Cause as JSON ({errorMessage, errorType, stackTrace}):
    keep the message, drop the stack trace. Other causes (States.Timeout, Sandbox.Timedout) are plain text."""
    if not cause:
        return None
    try:
        parsed = json.loads(cause)
    except (json.JSONDecodeError, TypeError, RecursionError):
        return cause[:MAX_MESSAGE]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:MAX_MESSAGE]
    return cause[:MAX_MESSAGE]


def provider_of(run: dict[str, Any]) -> str:
    """The run's fine-tuning provider (runs from before providers were chosen per project were OpenAI's)."""
    return str(run.get("provider") or LEGACY_PROVIDER)


def keeps_endpoint(run: dict[str, Any], outcome: RunStatus) -> bool:
    """A run whose model was promoted leaves its deployment (it serves the project's current model until a later
    promotion supersedes it), even when a recorder that failed after promoting it closes it as FAILED; a
    succeeded run of a project that keeps deployments leaves it too; every other run deletes it."""
    if run.get("promoted_at"):
        return True
    return outcome is RunStatus.SUCCEEDED and keeps_every_deployment(run.get("config"))


def release_provider_resources(
    run_id: str,
    runs: RunStore,
    provider: ProviderFactory,
    serving: ServingFactory | None = None,
    keep_endpoint: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    elapsed: Callable[[], float] | None = None,
    budget_seconds: float = CLEANUP_BUDGET_SECONDS,
) -> dict[str, Any]:
    """Cancel the run's jobs that are still training, delete the files it uploaded and what serves its tuned
    model (unless `keep_endpoint`); what was done, or why it could not be (recorded on the run: the run is
    closed either way). Nothing is asked of the provider for a run that never reached it (so a run that
    failed for a missing API key still closes)."""
    run = runs.get_run(run_id) or {}
    if not run.get("provider_contacted") and not run.get("job_id"):
        return {}
    name = provider_of(run)
    started = time.monotonic()
    elapsed = elapsed or (lambda: time.monotonic() - started)
    for attempt in range(CLEANUP_ATTEMPTS):
        try:
            client = provider(name)
            jobs = {job.job_id: job for job in client.find_jobs(run_id)}
            if run.get("job_id") and run["job_id"] not in jobs:  # listed late, or not at all: ask for it
                recorded = client.get_job(str(run["job_id"]))
                jobs[recorded.job_id] = recorded
            training = [job_id for job_id, job in jobs.items() if job.state is JobState.PENDING]
            cancelled = [client.cancel_job(job_id).job_id for job_id in training]
            deleted = client.delete_run_files(run_id)
            released = [] if serving is None or keep_endpoint else serving(name).release(run_id)
        except TransientError:
            if attempt == CLEANUP_ATTEMPTS - 1 or elapsed() > budget_seconds:
                raise
            sleep(2.0 * (attempt + 1))
            continue
        result: dict[str, Any] = {
            "jobs_cancelled": cancelled,
            "provider_files_deleted": deleted,
            "endpoints_deleted": released,
        }
        if keep_endpoint and run.get("endpoint_id"):
            result["endpoint_kept"] = run["endpoint_id"]
        if run.get("job_id") in cancelled:
            runs.update_run(run_id, job_status="cancelled", job_state=JobState.FAILED.value)
        runs.update_run(run_id, **_merged(run, result))
        return result
    raise AssertionError("unreachable")


def _merged(run: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """What a release records, added to what an earlier release of the run recorded (a recorder, then the
    execution's end event): a second release that finds nothing left never erases what the first one did."""
    merged = dict(result)
    for key in ("jobs_cancelled", "endpoints_deleted"):
        earlier = [value for value in run.get(key) or [] if value not in result[key]]
        merged[key] = earlier + list(result[key])
    earlier_files = int(run.get("provider_files_deleted") or 0)
    merged["provider_files_deleted"] = earlier_files + int(result["provider_files_deleted"])
    return merged


def _release(
    run_id: str,
    runs: RunStore,
    provider: ProviderFactory | None,
    serving: ServingFactory | None,
    outcome: RunStatus,
    keep_endpoint: bool = False,
) -> dict[str, Any]:
    """release_provider_resources, never failing the caller: the run is closed either way, and the operator
    sees on the run what may be left at the provider."""
    if provider is None:
        return {}
    try:
        keep = keep_endpoint or keeps_endpoint(runs.get_run(run_id) or {}, outcome)
        return release_provider_resources(run_id, runs, provider, serving, keep)
    except Exception as failure:
        cleanup = {"cleanup_error": f"{type(failure).__name__}: {failure}"[:MAX_MESSAGE]}
        runs.update_run(run_id, **cleanup)
        return cleanup


def _promote(
    run_id: str, outcome: RunStatus, runs: RunStore, projects: ProjectStore | None, clock: Clock
) -> tuple[PromotionChange, bool] | None:
    """Make a succeeded run whose gate passed its project's current model (before its resources are released,
    so its deployment is kept); recorded on the run as `promoted_at`, so a retried recorder promotes once.
    Returns the change and whether the project keeps every deployment; None when nothing was promoted."""
    if outcome is not RunStatus.SUCCEEDED or projects is None:
        return None
    run = runs.get_run(run_id) or {}
    if run.get("promoted_at") or not run.get("project_id"):
        return None
    change = promote(run, gate_passed(run), projects, clock)
    if change is None:
        return None
    runs.update_run(run_id, promoted_at=change.current.promoted_at)
    return change, keeps_every_deployment(run.get("config"))


def record_outcome(
    run_id: str,
    outcome: RunStatus,
    runs: RunStore,
    clock: Clock,
    error: str | None = None,
    cause: str | None = None,
    provider: ProviderFactory | None = None,
    serving: ServingFactory | None = None,
    projects: ProjectStore | None = None,
    store: ObjectStore | None = None,
) -> dict[str, Any]:
    """Close the run; first, promote its model if it passed its gate (with `projects`), and release what it
    holds at the provider (a job still training would go on billing, its training files are chats with personal
    data, a deployment nobody calls serves nothing), and what served the model its promotion superseded.

    A run whose cancel was asked ends CANCELLED, whatever its recorder was told. A success is written first and
    only while no cancel is asked (the run store's condition), and a cancel is only recorded on a run that has not
    ended: of a cancel and a success that race, exactly one wins, and a cancelled run is never promoted."""
    if (runs.get_run(run_id) or {}).get("cancel_requested_at"):
        # A cancelled run whose execution still reached a recorder (a step that found it cancelled, or a stop that
        # lost the race with the step's end): it ends as asked.
        outcome = RunStatus.CANCELLED
    if outcome is RunStatus.SUCCEEDED:
        try:
            runs.update_run(run_id, status=outcome.value, finished_at=iso(clock()))
        except RunClosed:  # a cancel was asked first (or the run ended otherwise): no promotion
            run = runs.get_run(run_id) or {}
            if not run.get("cancel_requested_at"):
                return {"run_id": run_id, "status": run.get("status"), "error": None, "error_message": None}
            outcome = RunStatus.CANCELLED
    if outcome is RunStatus.CANCELLED:
        requested = (runs.get_run(run_id) or {}).get("cancel_requested_at") or iso(clock())
        error, cause = CANCELLED_ERROR, f"cancelled on request at {requested}"
    message = failure_message(cause)
    promotion = _promote(run_id, outcome, runs, projects, clock)
    cleanup = _release(run_id, runs, provider, serving, outcome)
    if promotion is not None:
        change, keep = promotion
        cleanup["promoted"] = True
        if serving is not None:
            superseded = release_superseded(change, serving, keep)
            if superseded:
                runs.update_run(run_id, **superseded)
            cleanup.update(superseded)
    if outcome is not RunStatus.SUCCEEDED:
        try:
            runs.update_run(run_id, status=outcome.value, finished_at=iso(clock()), error=error, error_message=message)
        except RunClosed:  # it ended otherwise meanwhile (its own recorder): that status stands
            status = (runs.get_run(run_id) or {}).get("status")
            return {"run_id": run_id, "status": status, "error": None, "error_message": None, **cleanup}
    if store is not None and outcome is RunStatus.SUCCEEDED:
        cleanup.update(_write_report(run_id, runs, store))
    return {"run_id": run_id, "status": outcome.value, "error": error, "error_message": message, **cleanup}


def _write_report(run_id: str, runs: RunStore, store: ObjectStore) -> dict[str, Any]:
    """The report of a run that was evaluated (after its status is final, which the report shows). A report that
    cannot be written leaves the run succeeded: `report_error` (the exception's class, never its message, which
    could quote an output) is recorded instead."""
    if not (runs.get_run(run_id) or {}).get("evaluation_uri"):
        return {}
    from labeltune.pipeline.report import write_report  # the renderer, only where a report is written

    try:
        return {"report_key": write_report(run_id, store, runs)}
    except Exception as failure:
        runs.update_run(run_id, report_error=type(failure).__name__)
        return {"report_error": type(failure).__name__}


def record_execution_end(
    run_id: str,
    status: str,
    runs: RunStore,
    clock: Clock,
    cause: str | None = None,
    provider: ProviderFactory | None = None,
    serving: ServingFactory | None = None,
) -> dict[str, Any]:
    """An execution ended outside the state machine's own recording (timed out, aborted, or a recorder that
    failed): mark the run FAILED unless a recorder already closed it with a better message, and release
    what it holds at the provider either way."""
    run = runs.get_run(run_id)
    if run is None:
        return {"run_id": run_id, "status": None, "error": None, "error_message": None}
    if run.get("status") in FINISHED_RUN_STATUSES:
        # A succeeded run's deployment is its recorder's to keep or delete (it may be promoting it right now).
        succeeded = run["status"] == RunStatus.SUCCEEDED.value
        cleanup = _release(run_id, runs, provider, serving, RunStatus(run["status"]), keep_endpoint=succeeded)
        return {"run_id": run_id, "status": run.get("status"), "error": None, "error_message": None, **cleanup}
    if run.get("cancel_requested_at"):  # stopped by POST /runs/{id}/cancel (pipeline/cancel.py)
        return record_outcome(run_id, RunStatus.CANCELLED, runs, clock, None, None, provider, serving)
    error = f"Execution{status.title().replace('_', '')}"
    return record_outcome(run_id, RunStatus.FAILED, runs, clock, error, cause, provider, serving)
