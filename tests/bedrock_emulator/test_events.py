"""EventBridge "Model Customization Job State Change" events: shape, timing, dropping, callbacks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from labeltune_tools.bedrock_emulator import DETAIL_TYPE, SOURCE, BedrockEmulator
from tests.bedrock_emulator.conftest import NO_RETRIES, ROLE_ARN, job_request, wait_for_job

EVENT_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def _emulator_with_inbox(make_emulator: Callable[..., BedrockEmulator], **options: Any) -> tuple[BedrockEmulator, list]:
    inbox: list[dict[str, Any]] = []
    return make_emulator(on_event=inbox.append, **options), inbox


def test_a_completed_job_sends_one_event_shaped_like_eventbridge(
    make_emulator: Callable[..., BedrockEmulator], training_uri: str
) -> None:
    emulator, inbox = _emulator_with_inbox(make_emulator)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    request = job_request(training_uri)
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    # Nobody polls: the emulator's own clock completes the job and sends the event.
    delivered = emulator.wait_for_events(1)
    assert delivered == inbox and len(inbox) == 1
    event = inbox[0]
    assert set(event) == EVENT_KEYS
    assert event["version"] == "0"
    assert (
        (event["detail-type"], event["source"])
        == (DETAIL_TYPE, SOURCE)
        == (
            "Model Customization Job State Change",
            "aws.bedrock",
        )
    )
    assert (event["account"], event["region"], event["resources"]) == ("123456789012", "us-east-1", [arn])
    assert event["time"].endswith("Z") and len(event["time"]) == len("2023-08-11T12:34:56Z")
    detail = event["detail"]
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert detail["jobStatus"] == "Completed" == job["status"]
    assert "status" not in detail  # AWS's sample names it jobStatus
    assert detail["version"] == "0.0"
    assert detail["jobArn"] == arn and detail["jobName"] == request["jobName"]
    assert detail["outputModelName"] == request["customModelName"]
    assert detail["outputModelArn"] == job["outputModelArn"]
    assert detail["roleArn"] == ROLE_ARN
    assert detail["baseModelArn"] == job["baseModelArn"]
    assert detail["hyperParameters"] == job["hyperParameters"]
    assert detail["trainingDataConfig"] == {"s3Uri": training_uri}
    assert detail["outputDataConfig"] == request["outputDataConfig"]
    assert detail["endTime"] == detail["lastModifiedTime"]
    assert "failureMessage" not in detail and "validationDataConfig" not in detail


def test_a_failed_job_sends_its_failure_message(
    make_emulator: Callable[..., BedrockEmulator], put: Callable[..., str]
) -> None:
    emulator, _inbox = _emulator_with_inbox(make_emulator)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    uri = put(["not json"])
    validation_uri = put(["not json"], key="validation.jsonl")
    request = job_request(uri, validationDataConfig={"validators": [{"s3Uri": validation_uri}]})
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    [event] = emulator.wait_for_events(1)
    assert event["detail"]["jobStatus"] == "Failed"
    assert event["detail"]["failureMessage"] == wait_for_job(bedrock, arn)["failureMessage"]
    assert "outputModelArn" not in event["detail"]
    assert event["detail"]["validationDataConfig"] == {"s3Uri": validation_uri}  # as in AWS's sample


def test_stopped_and_forced_outcomes_send_events(
    make_emulator: Callable[..., BedrockEmulator], training_uri: str
) -> None:
    emulator, inbox = _emulator_with_inbox(make_emulator, job_duration_seconds=30)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    stopped = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    failed = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    completed = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    bedrock.stop_model_customization_job(jobIdentifier=stopped)
    emulator.fail_job(failed, "Internal error: training diverged.")
    emulator.complete_job(completed)
    events = emulator.wait_for_events(3)
    by_job = {event["detail"]["jobArn"]: event["detail"] for event in events}
    assert by_job[stopped]["jobStatus"] == "Stopped"
    assert (by_job[failed]["jobStatus"], by_job[failed]["failureMessage"]) == (
        "Failed",
        "Internal error: training diverged.",
    )
    assert by_job[completed]["jobStatus"] == "Completed"
    assert len(inbox) == 3


def test_dropped_events_are_recorded_but_never_delivered(
    make_emulator: Callable[..., BedrockEmulator], training_uri: str
) -> None:
    emulator, inbox = _emulator_with_inbox(make_emulator, drop_events=True)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    assert wait_for_job(bedrock, arn)["status"] == "Completed"  # the poller still sees the outcome
    assert emulator.wait_for_events(1, timeout=0.3) == []
    assert inbox == [] and emulator.events == []
    assert [e["detail"]["jobArn"] for e in emulator.dropped_events] == [arn]

    emulator.drop_events = False  # delivery can come back mid-run
    again = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    assert [e["detail"]["jobArn"] for e in emulator.wait_for_events(1)] == [again]
    assert len(emulator.dropped_events) == 1


def test_more_transitions_can_be_sent(make_emulator: Callable[..., BedrockEmulator], training_uri: str) -> None:
    emulator, _ = _emulator_with_inbox(
        make_emulator, event_statuses={"InProgress", "Stopping", "Stopped"}, job_duration_seconds=30
    )
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert [e["detail"]["jobStatus"] for e in emulator.wait_for_events(3)] == ["InProgress", "Stopping", "Stopped"]


def test_a_failing_callback_does_not_stop_delivery(
    make_emulator: Callable[..., BedrockEmulator], training_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(event: dict[str, Any]) -> None:
        raise RuntimeError("consumer bug")

    emulator = make_emulator(on_event=explode, job_duration_seconds=0)
    bedrock = emulator.client("bedrock", config=NO_RETRIES)
    bedrock.create_model_customization_job(**job_request(training_uri))
    bedrock.create_model_customization_job(**job_request(training_uri))
    assert len(emulator.wait_for_events(2)) == 2
    assert "the on_event callback failed" in caplog.text


def test_a_callback_may_call_the_emulator_back(
    make_emulator: Callable[..., BedrockEmulator], training_uri: str
) -> None:
    """Delivery is on its own thread, as EventBridge's: a consumer that reads the job does not deadlock."""
    seen: list[str] = []
    done = threading.Event()
    emulator = make_emulator()
    bedrock = emulator.client("bedrock", config=NO_RETRIES)

    def consume(event: dict[str, Any]) -> None:
        job = bedrock.get_model_customization_job(jobIdentifier=event["detail"]["jobArn"])
        seen.append(job["status"])
        done.set()

    emulator.on_event = consume
    bedrock.create_model_customization_job(**job_request(training_uri))
    assert done.wait(5)
    assert seen == ["Completed"]
