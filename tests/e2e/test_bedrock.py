"""Amazon Bedrock as a project's provider: the real state machine on moto, the real handlers, the Bedrock
emulator behind boto3. A run trains a Nova model, serves it through an on-demand deployment, evaluates it
and deletes the deployment; whatever step fails, nothing is left running at Bedrock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from labeltune.domain.run_ids import new_manual_run_id
from labeltune_tools.embedded.iam_check import is_allowed
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project, wait_for

NOVA = "amazon.nova-micro-v1:0:128k"


def start_run(stack: EmbeddedStack, project: str) -> str:
    """POST /projects/{id}/runs with an Idempotency-Key: the run id is known before the run starts (so a
    fault can be aimed at this run's invocations only)."""
    key = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    status, body = http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}", headers)
    assert status == 202, body
    assert body["run_id"] == new_manual_run_id(project, key)
    return str(body["run_id"])


def bedrock_project(stack: EmbeddedStack, **config: Any) -> str:
    return new_project(stack, provider="bedrock", **config)


def run_of(stack: EmbeddedStack, run_id: str) -> dict[str, Any]:
    run = stack.get_run(run_id)
    assert run is not None
    return run


def jobs_of(stack: EmbeddedStack, run_id: str) -> list[dict[str, Any]]:
    assert stack.bedrock is not None
    return [job for job in stack.bedrock.jobs() if job["jobName"].endswith(run_id)]


def deployments_of(stack: EmbeddedStack, run_id: str) -> list[dict[str, Any]]:
    assert stack.bedrock is not None
    return [d for d in stack.bedrock.deployments() if d["modelDeploymentName"].endswith(run_id)]


def test_a_bedrock_run_trains_serves_evaluates_and_deletes_its_deployment(stack: EmbeddedStack) -> None:
    # A gate no model passes: a run that is not promoted deletes its deployment (test_promotion.py: a promoted
    # run's deployment serves its project's current model and is kept).
    hyperparameters = {"n_epochs": 3, "learning_rate": 0.00002}
    project = bedrock_project(stack, hyperparameters=hyperparameters, evaluation={"min_rouge_l": 1.0})
    run_id = start_run(stack, project)
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "SUCCEEDED"
    states = stack.states_visited(execution["executionArn"])
    serving = states[states.index("ServeTunedModel") : states.index("PlanEvaluation")]
    assert serving[:2] == ["ServeTunedModel", "IsModelServed"] and serving[-1] == "IsModelServed"
    assert set(serving[2:]) <= {"WaitForTunedModel", "CheckTunedModel", "IsModelServed"}
    assert "CheckTunedModel" in serving  # the deployment takes a while: the state machine waited, no Lambda did
    assert states[-4:] == ["AggregateEvaluation", "ArePredictionsWanted", "RecordRunSuccess", "RunSucceeded"]

    run = run_of(stack, run_id)
    assert (run["status"], run["provider"], run["base_model"], run["job_status"]) == (
        "SUCCEEDED",
        "bedrock",
        NOVA,
        "Completed",
    )
    assert run["fine_tuned_model"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert run["tuned_rouge_l"] > run["base_rouge_l"]
    assert run["tuned_metrics"]["model"] == run["endpoint_id"]  # the tuned model answered through its deployment
    assert run["base_metrics"]["model"] == "amazon.nova-micro-v1:0"  # the base model, by its inference id
    assert run["endpoints_deleted"] == [run["endpoint_id"]] and deployments_of(stack, run_id) == []

    (job,) = jobs_of(stack, run_id)
    bucket = stack.resources.bucket_name if stack.resources else ""
    assert job["trainingDataConfig"]["s3Uri"] == f"s3://{bucket}/runs/{run_id}/dataset/train.jsonl"
    assert job["outputDataConfig"]["s3Uri"] == f"s3://{bucket}/runs/{run_id}/provider-output/"
    assert job["hyperParameters"]["epochCount"] == "3" and job["hyperParameters"]["learningRate"] == "0.00002"


def test_the_job_role_reads_only_the_runs_data_and_writes_only_its_output(stack: EmbeddedStack) -> None:
    """What Bedrock does as the job role (read the training files, write the job's output) is allowed by the
    template's role, and nothing beside the run's prefixes: the role is checked against the job's own URIs."""
    assert stack.resources is not None
    documents = stack.resources.role_documents["BedrockJobRole"]
    job = next(job for job in stack.bedrock.jobs() if job["status"] == "Completed") if stack.bedrock else {}
    train = job["trainingDataConfig"]["s3Uri"].removeprefix("s3://")
    output = job["outputDataConfig"]["s3Uri"].removeprefix("s3://")
    bucket = stack.resources.bucket_name
    assert is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{train}")
    assert is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{output}metrics.csv")
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{bucket}/exports/{job['jobName']}.ndjson")
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{bucket}/runs/x/export.ndjson")  # raw chats
    assert not is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{train}")  # nor overwrite the data


def test_a_project_that_keeps_its_deployment_finds_it_active_after_the_run(stack: EmbeddedStack) -> None:
    run_id = start_run(stack, bedrock_project(stack, keep_deployment=True))
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    run = run_of(stack, run_id)
    assert run["endpoint_kept"] == run["endpoint_id"] and run["endpoints_deleted"] == []
    (kept,) = deployments_of(stack, run_id)
    assert kept["status"] == "Active"
    assert stack.bedrock is not None
    stack.bedrock.client("bedrock").delete_custom_model_deployment(customModelDeploymentIdentifier=run["endpoint_id"])


def test_a_failed_bedrock_job_fails_the_run_with_bedrocks_message(stack: EmbeddedStack) -> None:
    run_id = start_run(stack, bedrock_project(stack))
    job_id = wait_for(lambda: run_of(stack, run_id).get("job_id"))
    assert stack.bedrock is not None
    stack.bedrock.fail_job(job_id, "Validation error: record 3 exceeds the maximum context length")
    execution = stack.wait_for_execution(run_id)
    assert stack.states_visited(execution["executionArn"])[-2:] == ["RecordFineTuneFailure", "FineTuneFailed"]
    run = run_of(stack, run_id)
    assert (run["status"], run["error"], run["job_status"]) == ("FAILED", "FineTuneFailed", "Failed")
    assert run["error_message"] == "Validation error: record 3 exceeds the maximum context length"
    assert deployments_of(stack, run_id) == []


def test_a_job_stopped_at_bedrock_fails_the_run(stack: EmbeddedStack) -> None:
    run_id = start_run(stack, bedrock_project(stack))
    job_id = wait_for(lambda: run_of(stack, run_id).get("job_id"))
    assert stack.bedrock is not None
    stack.bedrock.client("bedrock").stop_model_customization_job(jobIdentifier=job_id)
    assert stack.wait_for_execution(run_id)["status"] == "FAILED"
    run = run_of(stack, run_id)
    assert (run["error"], run["job_status"]) == ("FineTuneFailed", "Stopped")
    assert "stopped" in run["error_message"].lower()


def _step(function: str, action: str | None = None) -> Callable[[str], tuple[str, Callable[[Any], bool]]]:
    """A step of the run `run_id`, as (function name part, which of its invocations)."""

    def aim(run_id: str) -> tuple[str, Callable[[Any], bool]]:
        def when(event: Any) -> bool:
            return isinstance(event, dict) and event.get("run_id") == run_id and event.get("action", action) == action

        return function, when

    return aim


STEPS = {
    "StartFineTune": _step("StartFineTuneFunction"),
    "CheckFineTune": _step("CheckFineTuneFunction"),
    "ServeTunedModel": _step("ServeModelFunction", "start"),
    "CheckTunedModel": _step("ServeModelFunction", "check"),
    "PlanEvaluation": _step("EvaluateFunction", "plan"),
    "EvaluateChunk": _step("EvaluateFunction", "chunk"),
    "AggregateEvaluation": _step("EvaluateFunction", "aggregate"),
    "RecordRunSuccess": _step("RecordOutcomeFunction"),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_nothing_is_left_running_at_bedrock_whichever_step_fails(stack: EmbeddedStack, step: str) -> None:
    """Each step crashes once, after doing its work (a Lambda timeout after its calls went through: a job
    created, a deployment requested, whose ids never reached the run record). The run fails, and its end
    finds what it made at Bedrock by the run's name: no job still training, no deployment left."""
    project = bedrock_project(stack)
    key = uuid.uuid4().hex
    run_id = new_manual_run_id(project, key)
    function, when = STEPS[step](run_id)
    # A chunk that crashes after its work is done has its results: the run goes on. One that crashes before fails
    # its Map on AWS (ToleratedFailurePercentage 0); moto's engine lets the Map succeed, and the aggregate step,
    # which never aggregates part of the set, fails the run instead (EvaluationIncomplete).
    RUNTIME.crash_next(function, after_handler=step != "EvaluateChunk", when=when)
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    assert http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}", headers)[0] == 202
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "FAILED"
    run = run_of(stack, run_id)
    expected = ("Sandbox.Timedout", "EvaluationIncomplete") if step == "EvaluateChunk" else ("Sandbox.Timedout",)
    assert run["status"] == "FAILED" and run["error"] in expected, (
        run.get("error"),
        run.get("error_message"),
    )
    left = deployments_of(stack, run_id)
    if step == "RecordRunSuccess" and run.get("promoted_at"):
        # The recorder crashed after promoting the model: its deployment serves the project's current model.
        assert [d["customModelDeploymentArn"] for d in left] == [run["endpoint_id"]]
        assert stack.bedrock is not None
        deployed = run["endpoint_id"]
        stack.bedrock.client("bedrock").delete_custom_model_deployment(customModelDeploymentIdentifier=deployed)
    else:
        assert left == [], step
    # A job the crash left training was stopped (Stopping, then Stopped: Bedrock takes a moment); one that
    # had finished stays Completed, its model kept.
    assert [job["status"] for job in jobs_of(stack, run_id) if job["status"] == "InProgress"] == [], step
    if step in ("StartFineTune", "CheckFineTune"):
        assert [job["status"] for job in jobs_of(stack, run_id)] in (["Stopping"], ["Stopped"], ["Completed"])
    assert "cleanup_error" not in run or run["cleanup_error"] is None
