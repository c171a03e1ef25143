"""The real state machine definition, executed by moto, against the real handlers in process."""

from __future__ import annotations

import json
import uuid

from labeltune.domain.signature import sign
from labeltune_tools.embedded.iam_check import denied_calls
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import PROJECT, http, new_project, wait_for


def deliver(
    stack: EmbeddedStack, project_id: str = PROJECT, delivery_id: str | None = None, row: str | None = None
) -> tuple[int, dict]:
    """A signed WORKFLOW_ACTION delivery for one data row (a new row each time unless `row` is given)."""
    delivery_id = delivery_id or uuid.uuid4().hex
    row = row or f"dr-{delivery_id}"
    payload = {"id": f"label-{row}", "label": "{}", "dataRow": {"id": row}, "project": {"id": project_id}}
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(stack.webhook_secret(project_id), body),
        "X-Labelbox-Id": delivery_id,
        "X-Labelbox-Event": "WORKFLOW_ACTION",
    }
    return http("POST", f"{stack.api_url}/webhooks/labelbox", body, headers)


def history(stack: EmbeddedStack, execution_arn: str) -> list[dict]:
    sfn = stack.client("stepfunctions")
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def test_webhook_to_evaluated_run(stack: EmbeddedStack) -> None:
    status, body = deliver(stack)
    assert status == 202 and body["counted"] is True and body["run_id"]
    execution = stack.wait_for_execution(body["run_id"])
    assert execution["status"] == "SUCCEEDED"
    states = stack.states_visited(execution["executionArn"])
    assert states[:6] == [
        "StartExport",
        "IsExportReady",
        "SnapshotExport",
        "PrepareDataset",
        "StartFineTune",
        "AwaitFineTune",
    ]
    # Resumed by the emulator's webhook, not by the fallback check (30 s here; the job takes 2 s).
    assert states[5:8] == ["AwaitFineTune", "IsFineTuneFinished", "ServeTunedModel"]
    evaluation = ["PlanEvaluation", "EvaluateChunks", "AggregateEvaluation", "ArePredictionsWanted"]
    assert states[-6:] == [*evaluation, "RecordRunSuccess", "RunSucceeded"]

    run = stack.get_run(body["run_id"])
    assert run is not None and run["status"] == "SUCCEEDED"
    assert (
        run["rows_read"]
        == run["train_examples"] + run["validation_examples"] + run["eval_examples"] + run["rejected_rows"]
    )
    assert run["train_examples"] >= 10 and run["eval_examples"] >= 1
    assert run["fine_tuned_model"].startswith("ft:")
    assert run["job_status"] == "succeeded"
    for role in ("base", "tuned"):
        assert run[f"{role}_metrics"]["examples"] == run["eval_examples"]
    # The emulated base model repeats contact details; the emulated tuned model answers like its training data.
    assert run["base_leak_rate"] > run["tuned_leak_rate"]
    assert run["tuned_rouge_l"] > run["base_rouge_l"]

    s3 = stack.client("s3")
    assert stack.resources is not None
    bucket = stack.resources.bucket_name
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{body['run_id']}/")["Contents"]}
    prefix = f"runs/{body['run_id']}"
    assert {
        f"{prefix}/export.ndjson",
        f"{prefix}/dataset/train.jsonl",
        f"{prefix}/dataset/validation.jsonl",
        f"{prefix}/dataset/eval.jsonl",
        f"{prefix}/dataset/rejected.ndjson",
        f"{prefix}/dataset/report.json",
        f"{prefix}/evaluation/examples.jsonl",
        f"{prefix}/evaluation/summary.json",
    } <= keys
    results = s3.get_object(Bucket=bucket, Key=f"{prefix}/evaluation/examples.jsonl")["Body"].read().splitlines()
    assert len(results) == 2 * run["eval_examples"]


def test_repeated_delivery_starts_no_second_run(stack: EmbeddedStack) -> None:
    delivery = f"delivery-{uuid.uuid4().hex}"
    first_status, first = deliver(stack, delivery_id=delivery)
    second_status, second = deliver(stack, delivery_id=delivery)
    assert (first_status, second_status) == (202, 202)
    assert first["run_id"] and first == second  # the repeat is answered from the idempotency record
    named = [e for e in stack.executions() if e["name"] == first["run_id"]]
    assert len(named) == 1
    assert stack.wait_for_execution(first["run_id"])["status"] == "SUCCEEDED"


def test_failed_fine_tune_is_recorded_with_the_providers_message(stack: EmbeddedStack, long_jobs: None) -> None:
    """The job is failed while it trains (long_jobs: the session's 2 s jobs could end first on a busy machine)."""
    _, body = deliver(stack)
    run_id = body["run_id"]
    job_id = wait_for(lambda: (stack.get_run(run_id) or {}).get("job_id"))
    assert stack.emulator is not None
    stack.emulator.force_job_failure(job_id, "invalid_training_file", "Training file line 3 has no assistant message")
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "FAILED"
    assert stack.states_visited(execution["executionArn"])[-2:] == ["RecordFineTuneFailure", "FineTuneFailed"]
    run = stack.get_run(run_id)
    assert run is not None
    assert run["status"] == "FAILED"
    assert run["error"] == "FineTuneFailed"
    assert run["job_error_code"] == "invalid_training_file"
    assert run["error_message"] == "Training file line 3 has no assistant message"
    assert "base_metrics" not in run


def test_transient_provider_errors_are_retried_by_the_state_machine(stack: EmbeddedStack) -> None:
    assert stack.emulator is not None
    # The SDK makes 3 attempts; 3 failures exhaust them, so the Lambda fails with TransientError once
    # and the state machine's Retry (with backoff) must carry the run through.
    # An earlier run's cleanup (its failed execution's end, handed to RecordOutcome as EventBridge would) lists jobs
    # too: it happens first, so the injected 500s meet this run's StartFineTune.
    stack.deliver_execution_events()
    stack.emulator.faults.fail_next(3, status=500, path_prefix="/v1/fine_tuning/jobs")
    _, body = deliver(stack)
    execution = stack.wait_for_execution(body["run_id"])
    assert execution["status"] == "SUCCEEDED"
    events = history(stack, execution["executionArn"])
    failures = [e for e in events if e["type"] == "LambdaFunctionFailed"]
    assert failures, "the injected 500s should have failed one StartFineTune attempt"
    assert all(e["lambdaFunctionFailedEventDetails"]["error"] == "TransientError" for e in failures)
    assert stack.emulator.faults.pending() == 0


def test_too_few_examples_fails_the_run_with_a_clear_reason(stack: EmbeddedStack) -> None:
    project = new_project(stack, rows=5)  # the sample's first 5 rows only
    _, body = deliver(stack, project_id=project)
    execution = stack.wait_for_execution(body["run_id"])
    assert execution["status"] == "FAILED"
    assert stack.states_visited(execution["executionArn"])[-2:] == ["RecordRunFailure", "RunFailed"]
    run = stack.get_run(body["run_id"])
    assert run is not None and run["status"] == "FAILED"
    assert run["error"] == "DatasetTooSmall"
    assert "need at least 10 training" in run["error_message"]
    assert run["rows_read"] == 5


def test_signature_is_checked_over_http(stack: EmbeddedStack) -> None:
    body = json.dumps({"project": {"id": PROJECT}}).encode()
    url = f"{stack.api_url}/webhooks/labelbox"
    tampered = body.replace(b"clx", b"xlc")
    assert http("POST", url, tampered, {"X-Hub-Signature-256": sign(stack.webhook_secret(PROJECT), body)})[0] == 401
    assert http("POST", url, body, {})[0] == 401
    assert http("POST", url, body, {"X-Hub-Signature-256": sign("not-the-secret", body)})[0] == 401
    assert (
        http("POST", url, b"not json", {"X-Hub-Signature": sign(stack.webhook_secret(PROJECT), b"not json", "sha1")})[0]
        == 400
    )


def test_management_routes(stack: EmbeddedStack) -> None:
    status, started = http("POST", f"{stack.api_url}/projects/{PROJECT}/runs", b"{}", {"Idempotency-Key": "k-1"})
    assert status == 202
    again_status, again = http("POST", f"{stack.api_url}/projects/{PROJECT}/runs", b"{}", {"Idempotency-Key": "k-1"})
    assert again_status == 202 and again["run_id"] == started["run_id"]
    other = http("POST", f"{stack.api_url}/projects/{PROJECT}/runs", b"{}", {"Idempotency-Key": "k-2"})
    assert other[0] == 409 and other[1]["active_run_id"] == started["run_id"]
    assert stack.wait_for_execution(started["run_id"])["status"] == "SUCCEEDED"
    status, run = http("GET", f"{stack.api_url}/runs/{started['run_id']}")
    assert status == 200 and run["status"] == "SUCCEEDED" and run["triggered_by"] == "manual"
    status, listing = http("GET", f"{stack.api_url}/projects/{PROJECT}/runs")
    assert status == 200 and started["run_id"] in {r["run_id"] for r in listing["runs"]}
    assert http("GET", f"{stack.api_url}/runs/run-does-not-exist")[0] == 404


def test_the_api_serves_exactly_the_routes_the_template_declares(stack: EmbeddedStack) -> None:
    """Each route is served by the function the template attaches it to, and no function serves another."""
    import importlib

    assert stack.resources is not None
    resources = stack.resources
    declared = {
        (method, path.replace("{", "<").replace("}", ">"), logical_id)
        for (method, path), logical_id in resources.route_functions.items()
    }
    served = set()
    for logical_id in set(resources.route_functions.values()):
        handler = resources.template["Resources"][logical_id]["Properties"]["Handler"]
        app = importlib.import_module(handler.rpartition(".")[0]).app
        served |= {(route.method.upper(), route.path, logical_id) for route in app._static_routes + app._dynamic_routes}
    assert declared == served
    authorizers = {path: auth for _, path, auth in resources.routes}
    assert authorizers.pop("/webhooks/labelbox") == "NONE"  # protected by the HMAC signature instead
    assert authorizers.pop("/webhooks/openai") == "NONE"  # OpenAI's Standard Webhooks signature instead
    assert set(authorizers.values()) == {"AWS_IAM"}


def test_every_aws_call_is_allowed_by_the_templates_iam_policies(stack: EmbeddedStack) -> None:
    """Runs after the pipeline tests above (file order): by now every function has made its calls."""
    assert stack.resources is not None
    called = {call.function for call in RUNTIME.calls}
    assert set(stack.resources.function_names.values()) == called  # every function was exercised
    assert denied_calls(RUNTIME.calls, stack.resources.role_policies, stack.resources.region) == []


def test_a_missing_permission_would_fail_the_check(stack: EmbeddedStack) -> None:
    """The check above can fail: drop the table permissions of one function and it reports them."""
    assert stack.resources is not None
    record = stack.resources.function_names["RecordOutcomeFunction"]
    policies = dict(stack.resources.role_policies)
    policies[record] = [
        {**doc, "Statement": [s for s in doc["Statement"] if "dynamodb:UpdateItem" not in s["Action"]]}
        for doc in policies[record]
    ]
    denied = denied_calls(RUNTIME.calls, policies, stack.resources.region)
    assert (record, "dynamodb:UpdateItem") in {(d.function, d.action) for d in denied}
    assert {d.function for d in denied} == {record}
    assert all(d.action.startswith("dynamodb:") for d in denied)
