"""Recording how a run ended, with the failing step's own message and no stack trace."""

from __future__ import annotations

import json

import pytest

from labeltune.clock import fixed_clock
from labeltune.domain.models import RunStatus
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import TransientError
from labeltune.pipeline.outcome import (
    MAX_MESSAGE,
    failure_message,
    record_execution_end,
    record_outcome,
    release_provider_resources,
)
from tests.fakes import InMemoryRunStore, ScriptedFineTuneProvider, ScriptedServing

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
    assert reply == {"run_id": RUN, "status": "SUCCEEDED", "error": None, "error_message": None}


def test_recording_a_missing_run_fails_loudly() -> None:
    with pytest.raises(KeyError):
        record_outcome("run-missing", RunStatus.FAILED, InMemoryRunStore(), CLOCK, error="X")


def test_an_execution_that_ended_outside_the_recorders_is_closed_once() -> None:
    runs = InMemoryRunStore()
    runs.create_run("r-open", "p", status="TRAINING")
    runs.create_run("r-closed", "p", status="FAILED", error="FineTuneFailed", error_message="bad file")
    record_execution_end("r-open", "TIMED_OUT", runs, CLOCK, cause=None)
    assert runs.get_run("r-open")["status"] == "FAILED"
    assert runs.get_run("r-open")["error"] == "ExecutionTimedOut"
    record_execution_end("r-closed", "FAILED", runs, CLOCK, cause="States.Runtime")
    assert runs.get_run("r-closed")["error"] == "FineTuneFailed"  # the recorder's better message is kept
    assert runs.get_run("r-closed")["error_message"] == "bad file"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        ("States.Timeout", "State 'EvaluateModels' timed out after 900 seconds"),
        ("Sandbox.Timedout", "Task timed out after 900.10 seconds"),
        ("Lambda.Unknown", "The cause could not be determined because Lambda did not return an error type."),
    ],
)
def test_lambda_timeouts_are_recorded_like_any_task_failure(error: str, cause: str) -> None:
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="EVALUATING")
    record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, error, cause)
    run = runs.get_run(RUN)
    assert (run["status"], run["error"], run["error_message"]) == ("FAILED", error, cause)


def started_job(provider: ScriptedFineTuneProvider, run_id: str = RUN) -> str:
    """A job of the run, trained from a file uploaded under the run's name."""
    train = provider.upload_training_file(f"{run_id}-train.jsonl", ["{}"])
    return provider.create_job(
        run_id=run_id, base_model="m", training_file=train, validation_file=None, hyperparameters=Hyperparameters()
    ).job_id


def test_a_failed_run_cancels_its_still_training_job_and_deletes_its_files() -> None:
    provider = ScriptedFineTuneProvider(statuses=("running",))
    runs = InMemoryRunStore()
    job_id = started_job(provider)
    runs.create_run(RUN, "p", status="TRAINING", job_id=job_id, job_status="running", provider_contacted=True)
    reply = record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "States.Timeout", None, lambda _: provider)
    assert reply["jobs_cancelled"] == [job_id] and reply["provider_files_deleted"] == 1
    run = runs.get_run(RUN)
    assert run["job_status"] == "cancelled" and run["jobs_cancelled"] == [job_id]
    assert provider.files == {}


def test_a_succeeded_run_deletes_its_files_and_leaves_its_model() -> None:
    provider = ScriptedFineTuneProvider(statuses=("succeeded",))
    runs = InMemoryRunStore()
    job_id = started_job(provider)
    provider.get_job(job_id)
    runs.create_run(RUN, "p", status="EVALUATING", job_id=job_id, provider_contacted=True)
    reply = record_outcome(RUN, RunStatus.SUCCEEDED, runs, CLOCK, provider=lambda _: provider)
    assert reply["jobs_cancelled"] == [] and reply["provider_files_deleted"] == 1
    assert provider.cancel_calls == [] and provider.files == {}


def test_a_job_created_just_before_a_crash_is_found_by_the_run_id_and_cancelled() -> None:
    """Its id never reached the run record; the run then failed for good."""
    provider = ScriptedFineTuneProvider(statuses=("running",))
    orphan = started_job(provider)
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="PREPARING", provider_contacted=True)  # no job_id on the record
    record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "Lambda.Unknown", None, lambda _: provider)
    assert provider.cancel_calls == [orphan] and provider.trained(RUN) == []
    assert provider.files == {}


def test_files_of_other_runs_are_left_alone() -> None:
    provider = ScriptedFineTuneProvider()
    started_job(provider, "run-other")
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING", provider_contacted=True)
    record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "X", None, lambda _: provider)
    assert [f.name for f in provider.files.values()] == ["run-other-train.jsonl"]


def test_a_run_that_never_reached_the_provider_does_not_ask_it_anything() -> None:
    def no_provider(name: str) -> ScriptedFineTuneProvider:
        raise AssertionError("the provider was asked")

    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="EXPORTING")
    assert record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "ExportFailed", None, no_provider)["status"] == "FAILED"


def test_a_failed_run_whose_provider_cannot_be_built_is_still_closed() -> None:
    def no_key(name: str) -> ScriptedFineTuneProvider:
        raise RuntimeError("the OpenAI API key secret holds no key yet")

    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING", job_id="ftjob-1", job_status="running")
    reply = record_outcome(RUN, RunStatus.FAILED, runs, CLOCK, "ConfigurationError", None, no_key)
    assert runs.get_run(RUN)["status"] == "FAILED"
    assert "no key yet" in reply["cleanup_error"] and "no key yet" in runs.get_run(RUN)["cleanup_error"]


class FlakyCleanup(ScriptedFineTuneProvider):
    """Deleting files fails transiently `failures` times."""

    def __init__(self, failures: int) -> None:
        super().__init__(statuses=("running",))
        self.failures = failures

    def delete_run_files(self, run_id: str) -> int:
        if self.failures:
            self.failures -= 1
            raise TransientError("OpenAI InternalServerError")
        return super().delete_run_files(run_id)


def test_a_transient_cleanup_failure_is_retried() -> None:
    provider = FlakyCleanup(failures=2)
    started_job(provider)
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING", provider_contacted=True)
    release_provider_resources(RUN, runs, lambda _: provider, sleep=lambda s: None)
    assert provider.files == {} and provider.trained(RUN) == []


def test_no_cleanup_attempt_starts_once_the_budget_is_spent() -> None:
    provider = FlakyCleanup(failures=5)
    started_job(provider)
    runs = InMemoryRunStore()
    runs.create_run(RUN, "p", status="TRAINING", provider_contacted=True)
    attempts = []

    def elapsed() -> float:
        attempts.append(1)
        return 1000.0  # past the budget after the first failure

    with pytest.raises(TransientError):
        release_provider_resources(RUN, runs, lambda _: provider, sleep=lambda s: None, elapsed=elapsed)
    assert provider.failures == 4  # one attempt, not three


def _served_run(
    runs: InMemoryRunStore, provider: ScriptedFineTuneProvider, serving: ScriptedServing, **config: object
) -> str:
    """A Bedrock run whose tuned model was being served when it ended."""
    job_id = started_job(provider)
    endpoint = serving.serve(RUN, "custom-model")
    runs.create_run(
        RUN,
        "p",
        status="EVALUATING",
        provider="bedrock",
        config={"provider": "bedrock", **config},
        job_id=job_id,
        provider_contacted=True,
        endpoint_id=endpoint.endpoint_id,
    )
    return endpoint.endpoint_id


@pytest.mark.parametrize("outcome", [RunStatus.FAILED, RunStatus.SUCCEEDED])
def test_the_deployment_that_served_the_tuned_model_is_deleted_when_the_run_ends(outcome: RunStatus) -> None:
    provider, serving, runs = ScriptedFineTuneProvider(statuses=("succeeded",)), ScriptedServing(), InMemoryRunStore()
    endpoint_id = _served_run(runs, provider, serving)
    asked: list[str] = []

    def serving_of(name: str) -> ScriptedServing:
        asked.append(name)
        return serving

    reply = record_outcome(RUN, outcome, runs, CLOCK, None, None, lambda _: provider, serving_of)
    assert reply["endpoints_deleted"] == [endpoint_id] and serving.endpoints == {}
    assert runs.get_run(RUN)["endpoints_deleted"] == [endpoint_id]
    assert asked == ["bedrock"]  # the run's own provider, from its record


def test_a_project_that_keeps_its_deployment_keeps_it_only_when_the_run_succeeded() -> None:
    provider, serving, runs = ScriptedFineTuneProvider(statuses=("succeeded",)), ScriptedServing(), InMemoryRunStore()
    endpoint_id = _served_run(runs, provider, serving, keep_deployment=True)
    reply = record_outcome(RUN, RunStatus.SUCCEEDED, runs, CLOCK, None, None, lambda _: provider, lambda _: serving)
    assert reply["endpoints_deleted"] == [] and reply["endpoint_kept"] == endpoint_id
    assert list(serving.endpoints) == [endpoint_id]

    failed_serving, failed_runs = ScriptedServing(), InMemoryRunStore()
    _served_run(failed_runs, provider, failed_serving, keep_deployment=True)
    record_outcome(RUN, RunStatus.FAILED, failed_runs, CLOCK, "X", None, lambda _: provider, lambda _: failed_serving)
    assert failed_serving.endpoints == {}  # a failed run's deployment serves nothing anyone asked for


def test_an_execution_that_timed_out_while_serving_deletes_the_deployment() -> None:
    provider, serving, runs = ScriptedFineTuneProvider(statuses=("succeeded",)), ScriptedServing(), InMemoryRunStore()
    _served_run(runs, provider, serving, keep_deployment=True)
    record_execution_end(RUN, "TIMED_OUT", runs, CLOCK, None, lambda _: provider, lambda _: serving)
    assert serving.endpoints == {} and runs.get_run(RUN)["status"] == "FAILED"
