"""Fixtures: moto's server for S3, a Bedrock emulator per test, boto3 clients pointed at both.

moto runs as a `ThreadedMotoServer` on a free port (not `mock_aws`): the emulator reads training data on
its own server threads, through a real HTTP S3 client, as the local stack wires it. Every exchange a
test makes is checked against botocore's service model when the test ends (see shape_check.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from labeltune_tools.bedrock_emulator import BedrockEmulator, Exchange
from tests.bedrock_emulator.shape_check import verify_exchange

JOB_SECONDS = 0.3
DEPLOYMENT_SECONDS = 0.2
STOP_SECONDS = 0.1
ROLE_ARN = "arn:aws:iam::123456789012:role/LabeltuneBedrockCustomization"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
TERMINAL = {"Completed", "Failed", "Stopped"}
SYSTEM = "Summarise the support chat without personal data."
# Clients that do not retry: a test sees each answer as it was sent.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})

TOPICS = [
    ("I want a refund for the blender that arrived broken", "Customer requests a refund for a broken blender."),
    ("my parcel is two weeks late and tracking has not moved", "Customer reports a delayed parcel."),
    ("I cannot log in, the password reset email never comes", "Customer cannot reset their password."),
    ("please send me a VAT invoice for last month", "Customer asks for a VAT invoice."),
    ("I need to change the shipping address on my order", "Customer wants to change the shipping address."),
    ("cancel my subscription before the next renewal", "Customer asks to cancel the subscription."),
    ("does the warranty cover a cracked screen", "Customer asks whether the warranty covers a cracked screen."),
    ("my discount code was rejected at checkout", "Customer reports a rejected discount code."),
    ("the shoes are too small and I want a bigger size", "Customer wants to exchange shoes for a larger size."),
    ("I was charged twice for the same order", "Customer reports a duplicate charge."),
]


def transcript(index: int) -> str:
    """A support chat with PII in it (name, order, email, phone), as the pipeline sends it."""
    complaint, _ = TOPICS[index % len(TOPICS)]
    return (
        f"Maria Gonzalez{index}: Hello, {complaint}. Order ORD-{500000 + index}, "
        f"email maria{index}@example.com, phone 555-010-{1000 + index % 9000:04d}.\n"
        "Tom Baker: Thanks Maria, let me check that for you."
    )


def summary(index: int) -> str:
    return TOPICS[index % len(TOPICS)][1]


def record(index: int) -> dict[str, Any]:
    """One `bedrock-conversation-2024` training record."""
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM}],
        "messages": [
            {"role": "user", "content": [{"text": transcript(index)}]},
            {"role": "assistant", "content": [{"text": summary(index)}]},
        ],
    }


def jsonl(records: list[dict[str, Any]] | list[str]) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"labeltune-train-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def put(s3: Any, bucket: str) -> Callable[..., str]:
    """Upload bytes (or records) to the test's bucket; returns the s3:// URI."""

    def _put(content: bytes | list[dict[str, Any]] | list[str], key: str = "train.jsonl") -> str:
        body = content if isinstance(content, bytes) else jsonl(content)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    return _put


@pytest.fixture
def training_uri(put: Callable[..., str]) -> str:
    return put([record(i) for i in range(len(TOPICS))])


@pytest.fixture
def make_emulator(s3: Any) -> Iterator[Callable[..., BedrockEmulator]]:
    """Start emulators with these options; at teardown, stop them and check every exchange against the model."""
    started: list[tuple[BedrockEmulator, bool]] = []

    def _make(*, strict_errors: bool = True, **options: Any) -> BedrockEmulator:
        settings: dict[str, Any] = {
            "s3_client": s3,
            "job_duration_seconds": JOB_SECONDS,
            "deployment_duration_seconds": DEPLOYMENT_SECONDS,
            "stop_duration_seconds": STOP_SECONDS,
        }
        settings.update(options)
        emulator = BedrockEmulator(**settings).start()
        started.append((emulator, strict_errors))
        return emulator

    yield _make
    problems: list[str] = []
    for emulator, strict_errors in started:
        emulator.stop()
        for exchange in emulator.exchanges:
            problems += verify_exchange(exchange, strict_errors=strict_errors)
    assert problems == [], "responses that do not match botocore's service model:\n" + "\n".join(problems)


@pytest.fixture
def emulator(make_emulator: Callable[..., BedrockEmulator]) -> BedrockEmulator:
    return make_emulator()


@pytest.fixture
def bedrock(emulator: BedrockEmulator) -> Any:
    return emulator.client("bedrock", config=NO_RETRIES)


@pytest.fixture
def runtime(emulator: BedrockEmulator) -> Any:
    return emulator.client("bedrock-runtime", config=NO_RETRIES)


def job_request(training_uri: str, **overrides: Any) -> dict[str, Any]:
    """A valid CreateModelCustomizationJob request (unique names), with overrides."""
    suffix = uuid.uuid4().hex[:8]
    request: dict[str, Any] = {
        "jobName": f"labeltune-job-{suffix}",
        "customModelName": f"labeltune-model-{suffix}",
        "roleArn": ROLE_ARN,
        "baseModelIdentifier": NOVA_MICRO,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": training_uri},
        "outputDataConfig": {"s3Uri": training_uri.rsplit("/", 1)[0] + "/output/"},
        "hyperParameters": {"epochCount": "2", "learningRate": "0.00001", "learningRateWarmupSteps": "5"},
    }
    request.update(overrides)
    return request


def wait_for_job(bedrock: Any, job: str, timeout: float = 5.0, until: set[str] | None = None) -> dict[str, Any]:
    """Poll GetModelCustomizationJob until the job is in one of `until` (default: terminal)."""
    wanted = until or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        found = bedrock.get_model_customization_job(jobIdentifier=job)
        if found["status"] in wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def wait_for_deployment(bedrock: Any, deployment: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)
        if found["status"] != "Creating" or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.fixture
def completed_model(bedrock: Any, training_uri: str) -> dict[str, Any]:
    """A completed job (as GetModelCustomizationJob returns it) trained on `training_uri`."""
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    job = wait_for_job(bedrock, arn)
    assert job["status"] == "Completed", job.get("failureMessage")
    return job


def exchanges_for(emulator: BedrockEmulator, operation: str) -> list[Exchange]:
    return [exchange for exchange in emulator.exchanges if exchange.operation == operation]
