"""Recording how a run ended, with the failing step's own message and no stack trace."""

from __future__ import annotations

import json

import pytest

from labeltune.clock import fixed_clock
from labeltune.domain.models import RunStatus
from labeltune.pipeline.outcome import MAX_MESSAGE, failure_message, record_outcome
from tests.fakes import InMemoryRunStore

RUN = "run-outcome-test"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")

LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "4 training and 1 held-out examples from 12 rows; need at least 10 training and 1 held-out",
        "errorType": "DatasetTooSmall",
        "requestId": "3f1c0c6e-7e0f-4b9e-8d7a-2f1e0c9b8a7d",
        "stackTrace": ['  File "/var/task/labeltune/pipeline/prepare.py", line 97, in prepare_dataset\n'],
    }
)


def test_failure_message_extracts_error_message_from_a_lambda_cause() -> None:
    assert failure_message(LAMBDA_CAUSE) == (
        "4 training and 1 held-out examples from 12 rows; need at least 10 training and 1 held-out"
    )


def test_failure_message_passes_plain_text() -> None:
    assert failure_message("States.Timeout: the fine-tuning job did not finish") == (
        "States.Timeout: the fine-tuning job did not finish"
    )


@pytest.mark.parametrize("cause", ['{"error": "x"}', "[1, 2]", "42"], ids=["no-errorMessage", "list", "number"])
def test_failure_message_keeps_json_without_error_message_verbatim(cause: str) -> None:
    assert failure_message(cause) == cause


@pytest.mark.parametrize("cause", [None, ""])
def test_no_cause_no_message(cause: str | None) -> None:
    assert failure_message(cause) is None


def test_failure_message_truncates_plain_text() -> None:
    message = failure_message("x" * (MAX_MESSAGE + 500))
    assert message == "x" * MAX_MESSAGE


def test_failure_message_truncates_the_extracted_message() -> None:
    cause = json.dumps({"errorMessage": "y" * 5000, "errorType": "ValueError", "stackTrace": []})
    assert failure_message(cause) == "y" * MAX_MESSAGE


def test_record_failure_sets_status_finished_at_and_error() -> None:
    runs = InMemoryRunStore(clock=fixed_clock("2026-11-26T09:00:00+00:00"))
    runs.create_run(RUN, "proj-1", status="TRAINING")

    reply = record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, error="DatasetTooSmall", cause=LAMBDA_CAUSE)

    run = runs.get_run(RUN)
    assert run is not None
    assert run["status"] == "FAILED"
    assert run["error"] == "DatasetTooSmall"
    assert run["error_message"].startswith("4 training and 1 held-out")
    assert "stackTrace" not in run["error_message"]
    assert run["finished_at"] == "2026-11-26T10:00:00.000+00:00"  # the clock it was given, in UTC
    assert reply == {
        "run_id": RUN,
        "status": "FAILED",
        "error": "DatasetTooSmall",
        "error_message": run["error_message"],
        "job_cancelled": None,
    }


def test_record_success_writes_no_error_attributes() -> None:
    runs = InMemoryRunStore()
    runs.create_run(RUN, "proj-1", status="EVALUATING")
    reply = record_outcome(RUN, RunStatus.SUCCEEDED, runs, CLOCK)
    run = runs.get_run(RUN)
    assert run is not None
    assert run["status"] == "SUCCEEDED"
    assert run["finished_at"] == "2026-11-26T10:00:00.000+00:00"
    assert "error" not in run and "error_message" not in run
    assert reply == {"run_id": RUN, "status": "SUCCEEDED", "error": None, "error_message": None, "job_cancelled": None}


def test_record_outcome_of_an_unknown_run_fails() -> None:
    with pytest.raises(KeyError):
        record_outcome("run-missing", RunStatus.FAILED, InMemoryRunStore(), CLOCK, error="X")


def test_an_execution_that_ended_outside_the_recorders_is_closed_once() -> None:
    from labeltune.pipeline.outcome import record_execution_end
    from tests.fakes import InMemoryRunStore

    runs = InMemoryRunStore()
    runs.create_run("r-open", "p", status="TRAINING")
    runs.create_run("r-closed", "p", status="FAILED", error="FineTuneFailed", error_message="bad file")
    record_execution_end("r-open", "TIMED_OUT", runs, CLOCK, cause=None)
    assert runs.get_run("r-open")["status"] == "FAILED"
    assert runs.get_run("r-open")["error"] == "ExecutionTimedOut"
    record_execution_end("r-closed", "FAILED", runs, CLOCK, cause="States.Runtime")
    assert runs.get_run("r-closed")["error"] == "FineTuneFailed"  # the recorder's better message is kept
    assert runs.get_run("r-closed")["error_message"] == "bad file"


def test_a_failed_run_cancels_its_still_training_job_and_a_finished_one_is_left_alone() -> None:
    from tests.fakes import ScriptedFineTuneProvider

    provider = ScriptedFineTuneProvider(statuses=("running",))
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING")
    job = provider.create_job(
        run_id=RUN,
        base_model="m",
        training_file=provider.upload_training_file("t", ["{}"]),
        validation_file=None,
        suffix="s",
    )
    runs.update_run(RUN, job_id=job.job_id, job_status="running")
    reply = record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "States.Timeout", None, lambda: provider)
    assert reply["job_cancelled"] is True
    assert runs.get_run(RUN)["job_status"] == "cancelled" and runs.get_run(RUN)["job_cancelled"] is True

    runs.create_run("done", "p", status="EVALUATING", job_id=job.job_id, job_status="succeeded")
    assert record_outcome("done", RunStatus.FAILED, runs, CLOCK, "X", None, lambda: provider)["job_cancelled"] is None


def test_a_failed_run_whose_provider_cannot_be_built_is_still_closed() -> None:
    def no_key() -> object:
        raise RuntimeError("the OpenAI API key secret holds no key yet")

    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING", job_id="ftjob-1", job_status="running")
    reply = record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "ConfigurationError", None, no_key)  # type: ignore[arg-type]
    assert reply["job_cancelled"] is False and runs.get_run(RUN)["status"] == "FAILED"
    assert "no key yet" in runs.get_run(RUN)["job_cancel_error"]
