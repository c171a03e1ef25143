"""Test helpers and lifecycle: forcing outcomes, looking inside, start/stop."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from labeltune_tools.bedrock_emulator import BedrockEmulator
from tests.bedrock_emulator.conftest import NO_RETRIES, job_request, summary, transcript, wait_for_deployment


def test_forcing_a_job_to_complete_or_fail(make_emulator: Any, training_uri: str, put: Any) -> None:
    emulator = make_emulator(job_duration_seconds=60)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    done = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    broken = bedrock.create_model_customization_job(**job_request(put(["not json"], key="bad.jsonl")))["jobArn"]
    failing = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]

    completed = emulator.complete_job(done)
    assert completed["status"] == "Completed" and completed["outputModelArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=done)["status"] == "Completed"
    with pytest.raises(ValueError, match="already Completed"):
        emulator.complete_job(done)
    with pytest.raises(ValueError, match="cannot complete: Data validation failed"):
        emulator.complete_job(broken)

    failed = emulator.fail_job(failing, "Internal error.")
    assert (failed["status"], failed["failureMessage"]) == ("Failed", "Internal error.")
    job = bedrock.get_model_customization_job(jobIdentifier=failing)
    assert job["statusDetails"]["validationDetails"]["status"] == "Failed"
    with pytest.raises(ValueError, match="already Failed"):
        emulator.fail_job(failing, "again")


def test_looking_inside(emulator: BedrockEmulator, bedrock: Any, training_uri: str) -> None:
    assert (emulator.jobs(), emulator.custom_models(), emulator.deployments()) == ([], [], [])
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    examples = emulator.training_examples(arn)  # known from the start: the data is read when the job starts
    assert examples[2].user == transcript(2) and examples[2].assistant == summary(2)
    model_arn = emulator.complete_job(arn)["outputModelArn"]
    assert [m["modelArn"] for m in emulator.custom_models()] == [model_arn]
    deployment = bedrock.create_custom_model_deployment(modelDeploymentName="look", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    assert emulator.deployments()[0]["status"] == "Creating"
    assert emulator.activate_deployment(deployment)["status"] == "Active"
    assert wait_for_deployment(bedrock, deployment)["status"] == "Active"
    with pytest.raises(ValueError, match="already Active"):
        emulator.activate_deployment(deployment)
    assert [e.assistant for e in emulator.training_examples("look")] == [e.assistant for e in examples]


def test_port_zero_start_stop_and_context_manager(s3: Any) -> None:
    with BedrockEmulator(s3_client=s3) as first, BedrockEmulator(s3_client=s3) as second:
        assert first.port != second.port
        assert first.endpoint_url == f"http://127.0.0.1:{first.port}"
        with pytest.raises(RuntimeError, match="already started"):
            first.start()
        port = first.port
    first.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        _ = first.port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the port is free again


def test_durations_must_be_sane() -> None:
    with pytest.raises(ValueError, match="job_duration_seconds"):
        BedrockEmulator(job_duration_seconds=-1)
    with pytest.raises(ValueError, match="deployment_duration_seconds"):
        BedrockEmulator(deployment_duration_seconds=float("nan"))
