"""The API's Lambda entry point answers API Gateway in the shape its routes declare (payload format 1.0).

moto does not run API Gateway, so a response API Gateway would reject (a 2.0 field such as `cookies` on a 1.0
route, a body that is not a string) would only show after a deployment. The handler is called here with the
sample events (what API Gateway sends, also used by `sam local invoke`) against moto's DynamoDB and
Secrets Manager, and each response is checked against AWS's documented 1.0 response format: statusCode,
headers, multiValueHeaders, body (a string), isBase64Encoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from labeltune.domain.project_config import ProjectConfig
from labeltune_tools.embedded.lambda_runtime import LambdaContext
from tests.adapters.tables import create_table

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROJECT = "clx-support-summaries-demo"
PREFIX = "labeltune/labelbox-webhook/"
FORMAT_1_0 = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        for logical_id, name in (
            ("RunsTable", "runs"),
            ("ProjectsTable", "projects"),
            ("DeliveriesTable", "deliveries"),
            ("IdempotencyTable", "idempotency"),
        ):
            create_table(dynamodb, logical_id, name)
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=PREFIX + PROJECT, SecretString="sample-webhook-secret"
        )
        machine = boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
            name="labeltune-pipeline",
            definition=json.dumps({"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/pipeline",
        )["stateMachineArn"]
        environment = {
            "TABLE_NAME": "runs",
            "BUCKET_NAME": "artifacts",
            "PROJECTS_TABLE_NAME": "projects",
            "DELIVERIES_TABLE_NAME": "deliveries",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "STATE_MACHINE_ARN": machine,
            "WEBHOOK_SECRET_PREFIX": PREFIX,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        from labeltune.handlers import api
        from labeltune.wiring import reset_services, services

        reset_services()  # settings are read once per function: these are this test's

        services().projects.put_config(PROJECT, ProjectConfig().model_dump(mode="json"))
        yield api.handler


def invoke(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext("labeltune-api", 512, "arn:aws:lambda:us-east-1:123456789012:function:api", 60)
    response = handler(event, context)
    assert set(response) <= FORMAT_1_0, f"not API Gateway payload format 1.0: {sorted(set(response) - FORMAT_1_0)}"
    assert {"statusCode", "body"} <= set(response)
    assert isinstance(response["statusCode"], int) and isinstance(response["body"], str)
    assert all(isinstance(v, str) for v in (response.get("headers") or {}).values())
    return response


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("api_*.json")))
def test_every_sample_request_is_answered_in_payload_format_1_0(handler: Any, name: str) -> None:
    event = json.loads((EVENTS / name).read_text())
    assert event["version"] == "1.0"
    response = invoke(handler, event)
    assert response["statusCode"] < 500
    assert "cookies" not in response


def test_the_signed_sample_webhook_is_accepted_and_errors_keep_the_shape(handler: Any) -> None:
    event = json.loads((EVENTS / "api_webhook_labelbox.json").read_text())
    accepted = invoke(handler, event)
    assert accepted["statusCode"] == 202 and json.loads(accepted["body"])["project_id"] == PROJECT
    tampered = invoke(handler, {**event, "body": event["body"].replace("summary", "summarY")})
    assert tampered["statusCode"] == 401 and json.loads(tampered["body"])["message"]
    missing = invoke(handler, {**event, "path": "/nowhere", "resource": "/nowhere"})
    assert missing["statusCode"] == 404 and json.loads(missing["body"]) == {"message": "no such route"}


def test_a_write_that_keeps_conflicting_is_503_with_retry_after_and_records_nothing(handler: Any) -> None:
    """Real DynamoDB cancels concurrent transactions on one project (TransactionConflict); once the retries are
    spent the delivery is answered 503 with Retry-After (Labelbox delivers again), never 500."""
    from labeltune_tools.embedded.moto_dynamodb import inject_transaction_conflicts, make_moto_dynamodb_atomic

    make_moto_dynamodb_atomic()
    event = json.loads((EVENTS / "api_webhook_labelbox.json").read_text())
    body = json.loads(event["body"])
    body["event"] = "WORKFLOW_ACTION"  # an approval: it is counted, in a transaction
    event = {**event, "body": json.dumps(body)}
    from tests.infra.sample_events import SAMPLE_WEBHOOK_SECRET, sign

    event["headers"] = {**event["headers"], "X-Hub-Signature-256": sign(event["body"], SAMPLE_WEBHOOK_SECRET)}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    inject_transaction_conflicts(1.0)
    try:
        busy = invoke(handler, event)
    finally:
        inject_transaction_conflicts(0.0)
    assert busy["statusCode"] == 503 and busy["multiValueHeaders"]["Retry-After"] == ["2"]
    assert boto3.resource("dynamodb", region_name="us-east-1").Table("deliveries").scan()["Items"] == []
    assert invoke(handler, event)["statusCode"] == 202  # the redelivery, once DynamoDB lets it through


def test_a_runs_report_is_a_redirect_to_a_presigned_link_that_serves_it(handler: Any) -> None:
    """GET /runs/{id}/report: 302 to a link valid 15 minutes (the bucket stays private), 404 for a run without a
    report or no run at all, 400 for a run id that cannot be one."""
    import requests  # moto answers a presigned link fetched with requests inside mock_aws

    from labeltune.wiring import services

    event = json.loads((EVENTS / "api_get_run.json").read_text())

    def get_report(run_id: str) -> dict[str, Any]:
        resource, path, parameters = "/runs/{run_id}/report", f"/runs/{run_id}/report", {"run_id": run_id}
        return invoke(handler, {**event, "resource": resource, "path": path, "pathParameters": parameters})

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    runs = services().runs
    runs.create_run("run-with-report", PROJECT, status="SUCCEEDED")
    runs.create_run("run-without-report", PROJECT, status="SUCCEEDED")
    page = "<!DOCTYPE html><title>report</title>"
    key = services().store.put_text("runs/run-with-report/report.html", page, "text/html; charset=utf-8")
    runs.update_run("run-with-report", report_key="runs/run-with-report/report.html")

    found = get_report("run-with-report")
    assert found["statusCode"] == 302, found["body"]
    assert key == "s3://artifacts/runs/run-with-report/report.html"
    (link,) = found["multiValueHeaders"]["Location"]
    assert "/runs/run-with-report/report.html?" in link and "X-Amz-Expires=900" in link
    assert json.loads(found["body"]) == {"run_id": "run-with-report", "expires_in_seconds": 900}
    fetched = requests.get(link, timeout=10)
    assert fetched.status_code == 200 and fetched.text == page
    assert fetched.headers["Content-Type"] == "text/html; charset=utf-8"

    assert get_report("run-without-report")["statusCode"] == 404
    assert json.loads(get_report("run-nobody-started")["body"])["message"] == "no such run"
    assert get_report("not a run id!")["statusCode"] == 400
