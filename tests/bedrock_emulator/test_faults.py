"""Fault injection: Bedrock's error codes and statuses, botocore's retries, lost responses, stalls, latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from labeltune_tools.bedrock_emulator import BedrockEmulator, BedrockFaultPlan
from tests.bedrock_emulator.conftest import NO_RETRIES, exchanges_for, job_request

MESSAGES = [{"role": "user", "content": [{"text": "Maria Lopez: hello, my email is m@example.com"}]}]
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})


def _code_and_status(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("error", "status", "operation"),
    [
        ("ThrottlingException", 429, "CreateModelCustomizationJob"),
        ("InternalServerException", 500, "GetModelCustomizationJob"),
        ("ValidationException", 400, "ListModelCustomizationJobs"),
        ("ServiceUnavailableException", 503, "Converse"),
        ("ThrottlingException", 429, "Converse"),
        ("ModelNotReadyException", 429, "Converse"),
    ],
)
def test_fail_next_answers_with_the_modelled_error(
    emulator: BedrockEmulator, bedrock: Any, runtime: Any, training_uri: str, error: str, status: int, operation: str
) -> None:
    emulator.faults.fail_next(1, error=error, operation=operation)
    calls: dict[str, Callable[[], Any]] = {
        "CreateModelCustomizationJob": lambda: bedrock.create_model_customization_job(**job_request(training_uri)),
        "GetModelCustomizationJob": lambda: bedrock.get_model_customization_job(jobIdentifier="any-job"),
        "ListModelCustomizationJobs": lambda: bedrock.list_model_customization_jobs(),
        "Converse": lambda: runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES),
    }
    with pytest.raises(ClientError) as raised:
        calls[operation]()
    assert _code_and_status(raised) == (error, status)
    client = runtime if operation == "Converse" else bedrock
    assert isinstance(raised.value, getattr(client.exceptions, error))
    assert raised.value.response["Error"]["Message"]
    assert emulator.faults.pending() == 0 and emulator.faults.injected == 1


def test_faults_match_their_operation_only(emulator: BedrockEmulator, bedrock: Any, runtime: Any) -> None:
    emulator.faults.fail_next(1, operation="Converse")
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
    assert emulator.faults.pending() == 1
    with pytest.raises(runtime.exceptions.ThrottlingException):
        runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)
    assert runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)["stopReason"] == "end_turn"


def test_a_service_filter_limits_faults_to_one_client(emulator: BedrockEmulator, bedrock: Any, runtime: Any) -> None:
    emulator.faults.fail_next(1, error="InternalServerException", service="bedrock-runtime")
    bedrock.list_foundation_models()
    with pytest.raises(runtime.exceptions.InternalServerException):
        runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)


def test_botocore_retries_throttling_and_server_errors(emulator: BedrockEmulator, training_uri: str) -> None:
    bedrock = emulator.client("bedrock", config=RETRIES)
    emulator.faults.fail_next(1, error="ThrottlingException", operation="CreateModelCustomizationJob")
    emulator.faults.fail_next(1, error="InternalServerException", operation="CreateModelCustomizationJob")
    created = bedrock.create_model_customization_job(**job_request(training_uri))
    assert created["ResponseMetadata"]["RetryAttempts"] == 2
    statuses = [e.status for e in exchanges_for(emulator, "CreateModelCustomizationJob")]
    assert statuses == [429, 500, 201]
    # The SDK sent one idempotency token for all three attempts.
    tokens = {e.request_json()["clientRequestToken"] for e in exchanges_for(emulator, "CreateModelCustomizationJob")}
    assert len(tokens) == 1


def test_a_lost_create_response_is_retried_into_the_same_job(emulator: BedrockEmulator, training_uri: str) -> None:
    bedrock = emulator.client("bedrock", config=RETRIES)
    emulator.faults.fail_next(
        1, error="InternalServerException", operation="CreateModelCustomizationJob", after_processing=True
    )
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    assert [job["jobArn"] for job in emulator.jobs()] == [arn]  # processed once, answered twice
    assert [e.status for e in exchanges_for(emulator, "CreateModelCustomizationJob")] == [500, 201]


def test_a_lost_deployment_response_is_retried_into_the_same_deployment(
    emulator: BedrockEmulator, completed_model: dict[str, Any]
) -> None:
    bedrock = emulator.client("bedrock", config=RETRIES)
    emulator.faults.fail_next(
        1, error="ThrottlingException", operation="CreateCustomModelDeployment", after_processing=True
    )
    arn = bedrock.create_custom_model_deployment(
        modelDeploymentName="eval", modelArn=completed_model["outputModelArn"]
    )["customModelDeploymentArn"]
    assert [d["customModelDeploymentArn"] for d in emulator.deployments()] == [arn]


def test_a_stalled_create_still_makes_exactly_one_job(emulator: BedrockEmulator, training_uri: str) -> None:
    """The client times out and retries while the first attempt is held; both attempts name one job."""
    bedrock = emulator.client(
        "bedrock", config=Config(read_timeout=0.3, retries={"mode": "standard", "total_max_attempts": 2})
    )
    emulator.faults.stall_next(1, seconds=0.8, operation="CreateModelCustomizationJob")
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    deadline = time.monotonic() + 3
    while len(exchanges_for(emulator, "CreateModelCustomizationJob")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    answers = exchanges_for(emulator, "CreateModelCustomizationJob")
    assert [e.status for e in answers] == [201, 201]  # the stalled attempt and the retry, in either order
    assert {e.json()["jobArn"] for e in answers} == {arn}
    assert len(emulator.jobs()) == 1
    assert emulator.faults.stalled == 1


def test_a_stall_longer_than_the_client_timeout_is_a_timeout(emulator: BedrockEmulator) -> None:
    runtime = emulator.client("bedrock-runtime", config=Config(read_timeout=0.2, retries={"total_max_attempts": 1}))
    emulator.faults.stall_next(1, seconds=0.6, operation="Converse")
    with pytest.raises(ReadTimeoutError):
        runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)


def test_latency_is_added_to_every_response(emulator: BedrockEmulator, bedrock: Any) -> None:
    emulator.faults.latency_seconds = 0.2
    started = time.monotonic()
    bedrock.list_foundation_models()
    assert time.monotonic() - started >= 0.2
    emulator.faults.clear()
    assert emulator.faults.latency_seconds == 0.0


def _outcomes(make_emulator: Callable[..., BedrockEmulator], seed: int) -> list[str]:
    plan = BedrockFaultPlan(
        error_rate=0.5,
        error_codes=("ThrottlingException", "InternalServerException", "ServiceUnavailableException"),
        operations=("Converse",),
        seed=seed,
    )
    emulator = make_emulator(faults=plan, strict_errors=False)
    runtime = emulator.client("bedrock-runtime", config=NO_RETRIES)
    outcomes = []
    for _ in range(24):
        try:
            runtime.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    emulator.client("bedrock", config=NO_RETRIES).list_foundation_models()  # not among `operations`: never fails
    return outcomes


def test_random_faults_are_reproducible_by_seed(make_emulator: Callable[..., BedrockEmulator]) -> None:
    first = _outcomes(make_emulator, seed=7)
    assert first == _outcomes(make_emulator, seed=7)
    assert {"ok", "ThrottlingException", "InternalServerException", "ServiceUnavailableException"} <= set(first)


def test_fault_plans_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        BedrockFaultPlan(error_rate=1.5)
    with pytest.raises(ValueError, match="stall_rate"):
        BedrockFaultPlan(error_rate=0.7, stall_rate=0.5)
    with pytest.raises(ValueError, match="error_codes"):
        BedrockFaultPlan(error_codes=())
    with pytest.raises(ValueError, match="n must be at least 1"):
        BedrockFaultPlan().fail_next(0)
    with pytest.raises(ValueError, match="HTTP error status"):
        BedrockFaultPlan().fail_next(status=200)
    with pytest.raises(ValueError, match="finite"):
        BedrockFaultPlan().stall_next(seconds=float("inf"))
