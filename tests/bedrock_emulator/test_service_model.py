"""The emulator against botocore's service models: routing, error statuses, and every response's shape.

Every test's exchanges are checked when its emulator stops (conftest.make_emulator); this module adds a
session that covers every emulated operation, success and error, and shows the checker is not vacuous.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labeltune_tools.bedrock_emulator import BedrockEmulator, Exchange
from labeltune_tools.bedrock_emulator.errors import ERROR_STATUS
from labeltune_tools.bedrock_emulator.service_model import SERVICES, routes, service_model
from tests.bedrock_emulator.conftest import NO_RETRIES, job_request, wait_for_deployment, wait_for_job
from tests.bedrock_emulator.shape_check import verify_exchange

EMULATED = {
    ("bedrock", "CreateModelCustomizationJob"),
    ("bedrock", "GetModelCustomizationJob"),
    ("bedrock", "ListModelCustomizationJobs"),
    ("bedrock", "StopModelCustomizationJob"),
    ("bedrock", "GetCustomModel"),
    ("bedrock", "CreateCustomModelDeployment"),
    ("bedrock", "GetCustomModelDeployment"),
    ("bedrock", "ListCustomModelDeployments"),
    ("bedrock", "DeleteCustomModelDeployment"),
    ("bedrock", "ListFoundationModels"),
    ("bedrock-runtime", "Converse"),
}


def _segments(template: str) -> list[str]:
    return template.split("?", 1)[0].strip("/").split("/")


def _could_collide(a: str, b: str) -> bool:
    """Whether one request path could match both templates (labels match any segment)."""
    left, right = _segments(a), _segments(b)
    if any(s.endswith("+}") for s in left + right):
        return True  # a greedy label: compare by hand
    return len(left) == len(right) and all(
        x.startswith("{") or y.startswith("{") or x == y for x, y in zip(left, right, strict=True)
    )


def test_no_two_operations_of_bedrock_and_bedrock_runtime_share_a_path() -> None:
    """One server can serve both clients only if method + path always names one operation."""
    collisions = [
        (a.service, a.operation, b.service, b.operation)
        for a, b in itertools.combinations(routes(), 2)
        if a.method == b.method and _could_collide(a.template, b.template)
    ]
    assert collisions == []
    assert {route.service for route in routes()} == set(SERVICES)


def test_the_error_status_table_matches_the_models() -> None:
    modelled: dict[str, int] = {}
    for service in SERVICES:
        for shape in service_model(service).error_shapes:
            status = shape.metadata["error"]["httpStatusCode"]
            assert modelled.setdefault(shape.name, status) == status, shape.name
    assert {code: modelled[code] for code in ERROR_STATUS} == ERROR_STATUS


def test_every_emulated_operation_answers_as_the_model_says(
    emulator: BedrockEmulator, bedrock: Any, runtime: Any, training_uri: str
) -> None:
    """A session through every operation, with errors; the fixture then checks each exchange."""
    bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")
    request = job_request(training_uri, validationDataConfig={"validators": [{"s3Uri": training_uri}]})
    job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    bedrock.get_model_customization_job(jobIdentifier=job_arn)  # InProgress, with statusDetails
    job = wait_for_job(bedrock, job_arn)
    stopped = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    bedrock.stop_model_customization_job(jobIdentifier=stopped)
    wait_for_job(bedrock, stopped)
    bedrock.list_model_customization_jobs(maxResults=1)
    bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName="schema-check", modelArn=job["outputModelArn"], description="d"
    )["customModelDeploymentArn"]
    bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)
    wait_for_deployment(bedrock, deployment)
    bedrock.list_custom_model_deployments(maxResults=1)
    runtime.converse(modelId=deployment, messages=[{"role": "user", "content": [{"text": "refund please"}]}])
    runtime.converse(modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "hello"}]}])
    emulator.fail_deployment(deployment, "capacity")
    bedrock.list_custom_model_deployments()
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment)
    failures = [
        lambda: bedrock.create_model_customization_job(**job_request(training_uri, jobName="bad name")),
        lambda: bedrock.create_model_customization_job(**request),  # same names, new token: conflict
        lambda: bedrock.get_model_customization_job(jobIdentifier="missing"),
        lambda: bedrock.stop_model_customization_job(jobIdentifier=job_arn),
        lambda: bedrock.get_custom_model(modelIdentifier="missing"),
        lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="missing"),
        lambda: bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier="missing"),
        lambda: runtime.converse(modelId=deployment, messages=[{"role": "user", "content": [{"text": "x"}]}]),
        lambda: runtime.converse(modelId="amazon.nova-micro-v1:0", messages=[]),
    ]
    emulator.faults.fail_next(1, error="ThrottlingException", operation="ListModelCustomizationJobs")
    failures.append(lambda: bedrock.list_model_customization_jobs())
    for fail in failures:
        with pytest.raises(ClientError):
            fail()

    answered = {(e.service, e.operation) for e in emulator.exchanges if e.status < 300}
    assert answered == EMULATED
    assert {e.status for e in emulator.exchanges} >= {200, 201, 202, 400, 404, 429}
    assert all(verify_exchange(e) == [] for e in emulator.exchanges)


def test_other_operations_and_paths_are_unknown(emulator: BedrockEmulator, bedrock: Any) -> None:
    with pytest.raises(ClientError) as raised:
        bedrock.list_custom_models()
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "does not emulate ListCustomModels" in raised.value.response["Error"]["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(f"{emulator.endpoint_url}/no/such/path", timeout=5)
    assert http_error.value.code == 404
    assert http_error.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def _exchange(operation: str, body: dict[str, Any], status: int = 200, **headers: str) -> Exchange:
    service = "bedrock-runtime" if operation == "Converse" else "bedrock"
    return Exchange(
        service=service,
        operation=operation,
        method="GET",
        path="/",
        query="",
        request_body=b"",
        status=status,
        headers={"Content-Type": "application/json", "x-amzn-RequestId": "r", **headers},
        body=json.dumps(body).encode(),
    )


GOOD_DEPLOYMENT = {
    "customModelDeploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghijkl",
    "modelDeploymentName": "d",
    "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefghijkl",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "status": "Active",
}


@pytest.mark.parametrize(
    ("exchange", "problem"),
    [
        (_exchange("GetCustomModelDeployment", GOOD_DEPLOYMENT), None),
        (_exchange("GetCustomModelDeployment", {**GOOD_DEPLOYMENT, "status": "Ready"}), "is not one of"),
        (_exchange("GetCustomModelDeployment", {**GOOD_DEPLOYMENT, "customModelDeploymentName": "d"}), "not a member"),
        (
            _exchange("GetCustomModelDeployment", {k: v for k, v in GOOD_DEPLOYMENT.items() if k != "createdAt"}),
            "createdAt: required member missing",
        ),
        (_exchange("GetCustomModelDeployment", {**GOOD_DEPLOYMENT, "createdAt": "yesterday"}), "cannot parse"),
        (
            _exchange("GetCustomModelDeployment", {**GOOD_DEPLOYMENT, "modelArn": "arn:aws:bedrock:custom-model/x"}),
            "does not match",
        ),
        (_exchange("GetCustomModelDeployment", GOOD_DEPLOYMENT, status=201), "the model says 200"),
        (
            _exchange(
                "Converse",
                {"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": "end_turn"},
            ),
            "usage: required member missing",
        ),
        (
            _exchange(
                "GetModelCustomizationJob", {"message": "gone"}, 404, **{"x-amzn-ErrorType": "ConflictException"}
            ),
            "ConflictException is 400 in the model",
        ),
        (
            _exchange("Converse", {"message": "x"}, 400, **{"x-amzn-ErrorType": "ConflictException"}),
            "Converse does not declare ConflictException",
        ),
        (
            _exchange("ListFoundationModels", {"message": "x"}, 400, **{"x-amzn-ErrorType": "NoSuchThing"}),
            "is not an error shape",
        ),
        (
            _exchange("Converse", {"message": "x"}, 400, **{"x-amzn-ErrorType": "TooManyTagsException"}),
            "is not an error shape of bedrock-runtime",
        ),
    ],
)
def test_the_checker_catches_what_botocore_would_let_through(exchange: Exchange, problem: str | None) -> None:
    problems = verify_exchange(exchange)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_both_clients_share_one_endpoint(emulator: BedrockEmulator) -> None:
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    runtime = emulator.client("bedrock-runtime", config=NO_RETRIES)
    assert bedrock.meta.endpoint_url == runtime.meta.endpoint_url == emulator.endpoint_url
