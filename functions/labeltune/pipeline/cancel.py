"""POST /runs/{id}/cancel: stop a run in flight, once, whatever is asked twice.

The cancel is recorded on the run first (`cancel_requested_at`, one conditional write: a second request, or a
run that ended meanwhile, records nothing), then the execution is stopped with the error "Cancelled". Stopping it
is all the API does to a run that started: Step Functions' "Execution Status Change" event for the aborted
execution reaches RecordOutcome (template.yaml's ExecutionEndedBadly rule), which closes a run with
`cancel_requested_at` as CANCELLED, cancels its provider job, deletes its files and deployments and frees its
project (pipeline/outcome.py), exactly as for any execution that ends badly. A run whose execution never started
(none for CLAIM_GRACE) has nothing to stop and nobody else to close it: it is closed here and its project released;
a younger one may still be starting, and ends as cancelled at its first step.

A step already running when the execution is stopped runs to its end: a step that creates something paid (a
fine-tuning job, a deployment) looks at the run after creating it and undoes it when the run is being cancelled
(`cancelled_meanwhile`), since the run's cleanup may already have looked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from labeltune.clock import Clock, iso, parse_iso
from labeltune.domain.models import CANCELLED_ERROR, FINISHED_RUN_STATUSES, RunStatus
from labeltune.domain.trigger_policy import CLAIM_GRACE
from labeltune.ports import ProjectStore, RunStore, WorkflowControl


class RunCancelled(Exception):
    """A step found its run cancelled after it created something, and undid it."""


class CancelVerdict(StrEnum):
    REQUESTED = "requested"  # this request cancelled the run (202)
    ALREADY = "already"  # cancelled before, or a cancel is under way (200)
    FINISHED = "finished"  # it succeeded or failed: nothing to cancel (409)
    UNKNOWN = "unknown"  # no such run (404)


@dataclass(frozen=True)
class CancelResult:
    verdict: CancelVerdict
    run: dict[str, Any] | None

    def body(self, run_id: str) -> dict[str, Any]:
        run = self.run or {}
        return {"run_id": run_id, "status": run.get("status"), "cancel_requested_at": run.get("cancel_requested_at")}


def cancelled_meanwhile(run: dict[str, Any] | None) -> bool:
    """Whether a step must undo what it just created: the run is being cancelled, or it has already ended (its
    cleanup ran, or is running, and may not have found what the step created)."""
    run = run or {}
    return bool(run.get("cancel_requested_at")) or run.get("status") in FINISHED_RUN_STATUSES


def _close_unstarted(run_id: str, run: dict[str, Any], runs: RunStore, projects: ProjectStore, clock: Clock) -> None:
    """A run with no execution: no event will close it, so it is closed here and its project's slot released
    (its labels are not given back: the cancel was for them)."""
    runs.update_run(
        run_id,
        status=RunStatus.CANCELLED.value,
        error=CANCELLED_ERROR,
        error_message="cancelled before its execution started",
        finished_at=iso(clock()),
    )
    if run.get("project_id"):
        projects.release_run(str(run["project_id"]), run_id)


def _start_abandoned(run: dict[str, Any], clock: Clock) -> bool:
    """A run without an execution for CLAIM_GRACE will not get one (its start failed or was killed). A younger one
    may still be starting: it is left to start, and ends at its first step (cancelled_meanwhile), or as cancelled if
    its start fails (pipeline/trigger.py), so it is never closed here while an execution may still begin."""
    created = run.get("created_at")
    return not created or clock() - parse_iso(str(created)) >= CLAIM_GRACE


def cancel_run(
    run_id: str, runs: RunStore, workflow: WorkflowControl, projects: ProjectStore, clock: Clock
) -> CancelResult:
    run = runs.get_run(run_id)
    if run is None:
        return CancelResult(CancelVerdict.UNKNOWN, None)
    if run.get("status") == RunStatus.CANCELLED.value:
        return CancelResult(CancelVerdict.ALREADY, run)
    if run.get("status") in FINISHED_RUN_STATUSES:
        return CancelResult(CancelVerdict.FINISHED, run)
    recorded = runs.request_cancel(run_id, iso(clock()))
    run = runs.get_run(run_id) or run
    if not recorded and not run.get("cancel_requested_at"):  # it ended between the two reads
        verdict = CancelVerdict.ALREADY if run.get("status") == RunStatus.CANCELLED.value else CancelVerdict.FINISHED
        return CancelResult(verdict, run)
    status = workflow.status(run_id)
    if status is None and _start_abandoned(run, clock):
        _close_unstarted(run_id, run, runs, projects, clock)
    elif status == "RUNNING":  # also on a repeat whose first stop never went through
        workflow.stop(run_id, CANCELLED_ERROR, f"cancelled through the API at {run['cancel_requested_at']}")
    # An execution that already ended badly is closed by its own event (as CANCELLED, now that it is asked).
    return CancelResult(CancelVerdict.REQUESTED if recorded else CancelVerdict.ALREADY, runs.get_run(run_id) or run)
