"""Cancelling a run (pipeline/cancel.py) on fakes: every branch of the request, its idempotency, the run's close
by its execution's end event, and the steps that create something paid after the cancel's cleanup ran."""

from __future__ import annotations

from typing import Any

import pytest

from labeltune.clock import Clock, fixed_clock
from labeltune.domain.models import FineTuneJob, JobState, RunStatus
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import RunClosed
from labeltune.pipeline.cancel import CancelVerdict, RunCancelled, cancel_run, cancelled_meanwhile
from labeltune.pipeline.export import start_export
from labeltune.pipeline.fine_tune import start_fine_tune
from labeltune.pipeline.outcome import record_execution_end, record_outcome
from labeltune.pipeline.serving import serve_tuned_model
from tests.fakes import (
    InMemoryObjectStore,
    InMemoryProjectStore,
    InMemoryRunStore,
    RecordingWorkflow,
    ScriptedExportService,
    ScriptedFineTuneProvider,
    ScriptedServing,
)
from tests.pipeline.test_fine_tune import BASE, make_dataset

RUN = "run-0123456789abcdef01234567"  # the run id of tests/pipeline/test_fine_tune.make_dataset
PROJECT = "proj-1"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")
ASKED = "2026-11-26T10:00:00.000+00:00"
FOUR_MINUTES_EARLIER = fixed_clock("2026-11-26T09:56:00+00:00")


class Stack:
    def __init__(self, status: str = "TRAINING", started: bool = True, created: Clock = CLOCK) -> None:
        self.runs = InMemoryRunStore(clock=created)
        self.projects = InMemoryProjectStore(clock=CLOCK)
        self.workflow = RecordingWorkflow()
        self.projects.put_config(PROJECT, {})
        assert self.projects.claim_run(PROJECT, RUN, 0, "2000-01-01T00:00:00+00:00") is not None
        self.runs.create_run(RUN, PROJECT, status=status, provider="openai")
        self.runs._clock = CLOCK  # the run was created at `created`; everything after happens at CLOCK
        if started:
            self.workflow.start(RUN, {"run_id": RUN, "project_id": PROJECT})

    def cancel(self) -> Any:
        return cancel_run(RUN, self.runs, self.workflow, self.projects, CLOCK)

    def run(self) -> dict[str, Any]:
        run = self.runs.get_run(RUN)
        assert run is not None
        return run

    def project(self) -> dict[str, Any]:
        project = self.projects.get_project(PROJECT)
        assert project is not None
        return project


def test_a_run_in_flight_is_recorded_and_its_execution_stopped() -> None:
    stack = Stack()
    result = stack.cancel()
    assert result.verdict is CancelVerdict.REQUESTED
    assert result.body(RUN) == {"run_id": RUN, "status": "TRAINING", "cancel_requested_at": ASKED}
    assert stack.workflow.stops == [(RUN, "Cancelled", f"cancelled through the API at {ASKED}")]
    assert stack.workflow.statuses[RUN] == "ABORTED"
    # The run is closed by the aborted execution's event (RecordOutcome), not by the request.
    assert stack.run()["status"] == "TRAINING" and stack.project()["active_run_id"] == RUN


def test_a_second_cancel_answers_the_same_and_stops_nothing_more() -> None:
    stack = Stack()
    stack.cancel()
    again = stack.cancel()
    assert again.verdict is CancelVerdict.ALREADY
    assert again.body(RUN)["cancel_requested_at"] == ASKED
    assert len(stack.workflow.stops) == 1


def test_a_repeat_whose_first_stop_never_went_through_stops_the_execution() -> None:
    stack = Stack()
    assert stack.runs.request_cancel(RUN, ASKED)  # the first request died after recording the cancel
    result = stack.cancel()
    assert result.verdict is CancelVerdict.ALREADY
    assert stack.workflow.stops == [(RUN, "Cancelled", f"cancelled through the API at {ASKED}")]


def test_a_run_already_cancelled_is_answered_as_it_is() -> None:
    stack = Stack()
    stack.cancel()
    record_execution_end(RUN, "ABORTED", stack.runs, CLOCK)
    result = stack.cancel()
    assert result.verdict is CancelVerdict.ALREADY and result.body(RUN)["status"] == "CANCELLED"
    assert len(stack.workflow.stops) == 1


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_a_run_that_ended_cannot_be_cancelled(status: str) -> None:
    stack = Stack(status=status)
    result = stack.cancel()
    assert result.verdict is CancelVerdict.FINISHED and result.body(RUN)["status"] == status
    assert stack.workflow.stops == [] and "cancel_requested_at" not in stack.run()


def test_an_unknown_run_is_unknown() -> None:
    stack = Stack()
    result = cancel_run("run-nope", stack.runs, stack.workflow, stack.projects, CLOCK)
    assert result.verdict is CancelVerdict.UNKNOWN and result.run is None


def test_a_run_that_ends_between_the_look_and_the_write_is_not_cancelled() -> None:
    stack = Stack()

    class EndsFirst(InMemoryRunStore):
        def request_cancel(self, run_id: str, requested_at: str) -> bool:
            stack.runs.update_run(run_id, status="SUCCEEDED")
            return super().request_cancel(run_id, requested_at)

    racing = EndsFirst(clock=CLOCK)
    racing.items, racing._order = stack.runs.items, stack.runs._order
    stack.runs = racing
    result = stack.cancel()
    assert result.verdict is CancelVerdict.FINISHED and stack.workflow.stops == []


def test_a_run_whose_execution_never_started_is_closed_here_and_its_project_released() -> None:
    stack = Stack(status="STARTED", started=False, created=FOUR_MINUTES_EARLIER)  # past CLAIM_GRACE: abandoned
    result = stack.cancel()
    assert result.verdict is CancelVerdict.REQUESTED
    run = stack.run()
    assert (run["status"], run["error"], run["finished_at"]) == ("CANCELLED", "Cancelled", ASKED)
    assert "active_run_id" not in stack.project()
    assert stack.workflow.stops == []
    assert stack.cancel().verdict is CancelVerdict.ALREADY


def test_a_run_that_may_still_be_starting_is_left_to_start_and_ends_at_its_first_step() -> None:
    """No execution yet, but the run is younger than CLAIM_GRACE: its start may be in progress, so closing it now
    could let an execution begin on a closed run. It is left to start; its export step contacts nobody."""
    stack = Stack(status="STARTED", started=False)
    assert stack.cancel().verdict is CancelVerdict.REQUESTED
    assert stack.run()["status"] == "STARTED" and stack.project()["active_run_id"] == RUN
    exports = ScriptedExportService()
    with pytest.raises(RunCancelled):
        start_export(RUN, PROJECT, exports, stack.runs, CLOCK)
    assert exports.started == []
    closed = record_outcome(RUN, RunStatus.FAILED, stack.runs, CLOCK, "RunCancelled", None)  # RecordRunFailure
    assert closed["status"] == "CANCELLED" and stack.run()["error"] == "Cancelled"


def test_a_success_and_a_cancel_that_race_cannot_both_win() -> None:
    """The cancel lands while RecordRunSuccess runs: the success is not written, nothing is promoted, the run ends
    CANCELLED; and once a success is written no cancel is recorded."""
    stack = Stack(status="EVALUATING")
    assert stack.cancel().verdict is CancelVerdict.REQUESTED
    projects = stack.projects
    result = record_outcome(RUN, RunStatus.SUCCEEDED, stack.runs, CLOCK, projects=projects)
    assert result["status"] == "CANCELLED" and stack.run()["status"] == "CANCELLED"
    assert "promoted_at" not in stack.run() and not (stack.project().get("model") or {}).get("current")
    with pytest.raises(RunClosed):
        stack.runs.update_run(RUN, status="SUCCEEDED")
    done = Stack(status="EVALUATING")
    record_outcome(RUN, RunStatus.SUCCEEDED, done.runs, CLOCK)
    assert done.cancel().verdict is CancelVerdict.FINISHED and done.run()["status"] == "SUCCEEDED"


def test_an_execution_that_already_ended_badly_is_not_stopped_its_event_closes_the_run() -> None:
    stack = Stack()
    stack.workflow.statuses[RUN] = "FAILED"
    assert stack.cancel().verdict is CancelVerdict.REQUESTED
    assert stack.workflow.stops == []
    record_execution_end(RUN, "FAILED", stack.runs, CLOCK, cause="Lambda.Unknown")
    assert (stack.run()["status"], stack.run()["error"]) == ("CANCELLED", "Cancelled")


def test_the_aborted_executions_end_closes_the_run_cancelled_and_cancels_its_job() -> None:
    stack = Stack()
    provider = ScriptedFineTuneProvider(statuses=("running",))
    store = InMemoryObjectStore()
    job = start_fine_tune(make_dataset(store), store, provider, stack.runs, BASE, CLOCK, Hyperparameters())
    stack.cancel()
    reply = record_execution_end(RUN, "ABORTED", stack.runs, CLOCK, None, lambda _: provider, None)
    run = stack.run()
    assert (reply["status"], run["status"], run["error"]) == ("CANCELLED", "CANCELLED", "Cancelled")
    assert run["error_message"] == f"cancelled on request at {ASKED}" and run["finished_at"] == ASKED
    assert run["jobs_cancelled"] == [job.job_id] and run["job_status"] == "cancelled"
    assert provider.trained(RUN) == [] and run["provider_files_deleted"] == 2


def test_a_second_end_event_keeps_what_the_first_release_recorded() -> None:
    stack = Stack()
    provider = ScriptedFineTuneProvider(statuses=("running",))
    store = InMemoryObjectStore()
    job = start_fine_tune(make_dataset(store), store, provider, stack.runs, BASE, CLOCK, Hyperparameters())
    stack.cancel()
    record_execution_end(RUN, "ABORTED", stack.runs, CLOCK, None, lambda _: provider, None)
    record_execution_end(RUN, "ABORTED", stack.runs, CLOCK, None, lambda _: provider, None)
    assert stack.run()["jobs_cancelled"] == [job.job_id] and stack.run()["provider_files_deleted"] == 2


class CleanupDuringCreate(ScriptedFineTuneProvider):
    """The cancel and the aborted execution's cleanup happen while StartFineTune's create is on its way: the
    cleanup finds no job, then the create lands."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(statuses=("running",))
        self.stack = stack

    def create_job(self, **kwargs: Any) -> FineTuneJob:
        job = super().create_job(**kwargs)
        self._hidden[job.job_id] = 1  # not listed yet when the cleanup looks
        self.stack.cancel()
        record_execution_end(RUN, "ABORTED", self.stack.runs, CLOCK, None, lambda _: self, None)
        assert self.stack.run()["jobs_cancelled"] == []  # the cleanup found nothing to cancel
        return job


def test_a_job_created_after_the_cancels_cleanup_is_cancelled_by_the_step_that_created_it() -> None:
    stack = Stack(status="PREPARING")
    provider = CleanupDuringCreate(stack)
    store = InMemoryObjectStore()
    with pytest.raises(RunCancelled):
        start_fine_tune(make_dataset(store), store, provider, stack.runs, BASE, CLOCK, Hyperparameters())
    run = stack.run()
    assert provider.trained(RUN) == [] and run["late_jobs_cancelled"] == list(provider.jobs)
    assert run["status"] == "CANCELLED" and "job_id" not in run  # never moved back to TRAINING
    assert run["provider_files_deleted"] == 2 and provider.files == {}


class ClosesBeforeTraining(InMemoryRunStore):
    """The run is cancelled and closed between start_fine_tune's look at it and its TRAINING write."""

    def update_run(self, run_id: str, **attributes: Any) -> None:
        if attributes.get("status") == "TRAINING":
            super().update_run(run_id, status="CANCELLED", cancel_requested_at=ASKED)
        super().update_run(run_id, **attributes)


def test_a_run_closed_just_before_the_training_write_gets_its_job_undone() -> None:
    runs = ClosesBeforeTraining(clock=CLOCK)
    runs.create_run(RUN, PROJECT, status="PREPARING", provider="openai")
    provider = ScriptedFineTuneProvider(statuses=("running",))
    store = InMemoryObjectStore()
    with pytest.raises(RunCancelled):
        start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK, Hyperparameters())
    assert provider.trained(RUN) == [] and len(provider.cancel_calls) == 1
    assert (runs.get_run(RUN) or {})["status"] == "CANCELLED"


def test_a_retry_of_start_fine_tune_on_a_cancelled_run_cancels_the_job_it_finds() -> None:
    stack = Stack(status="PREPARING")
    provider = ScriptedFineTuneProvider(statuses=("running",))
    store = InMemoryObjectStore()
    job = start_fine_tune(make_dataset(store), store, provider, stack.runs, BASE, CLOCK, Hyperparameters())
    stack.runs.update_run(RUN, status="CANCELLED")
    with pytest.raises(RunCancelled):
        start_fine_tune(make_dataset(store), store, provider, stack.runs, BASE, CLOCK, Hyperparameters())
    assert provider.cancel_calls == [job.job_id] and provider.trained(RUN) == []


TUNED = FineTuneJob(
    job_id="job-1", status="Completed", state=JobState.SUCCEEDED, base_model="nova", fine_tuned_model="model-1"
)


def test_a_deployment_created_after_the_cancel_is_deleted_by_the_step_that_created_it() -> None:
    stack = Stack()
    serving = ScriptedServing()
    stack.cancel()
    record_execution_end(RUN, "ABORTED", stack.runs, CLOCK, None, None, lambda _: serving)
    with pytest.raises(RunCancelled):
        serve_tuned_model(RUN, TUNED, serving, stack.runs, CLOCK)
    assert serving.endpoints == {} and stack.run()["late_endpoints_deleted"] == [f"deployment-{RUN}"]


def test_a_deployment_of_a_run_nobody_cancelled_is_kept() -> None:
    stack = Stack()
    serving = ScriptedServing()
    serving_state = serve_tuned_model(RUN, TUNED, serving, stack.runs, CLOCK)
    assert serving_state.endpoint.endpoint_id in serving.endpoints


@pytest.mark.parametrize(
    ("run", "undo"),
    [
        ({"status": "TRAINING"}, False),
        ({"status": "TRAINING", "cancel_requested_at": ASKED}, True),
        ({"status": "FAILED"}, True),
        ({"status": "CANCELLED"}, True),
        (None, False),
    ],
)
def test_cancelled_meanwhile(run: dict[str, Any] | None, undo: bool) -> None:
    assert cancelled_meanwhile(run) is undo


def test_a_failure_recorded_for_a_run_being_cancelled_closes_it_cancelled() -> None:
    from labeltune.pipeline.outcome import record_outcome

    stack = Stack()
    stack.cancel()
    reply = record_outcome(RUN, RunStatus.FAILED, stack.runs, CLOCK, "RunCancelled", "a step undid its job")
    assert (reply["status"], reply["error"]) == ("CANCELLED", "Cancelled")
