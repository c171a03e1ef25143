"""POST /runs/{id}/cancel on the local stack: the real state machine is stopped, the aborted execution's event
(execution_events.py, as EventBridge sends it) reaches RecordOutcome through the template's own rule, and the run
ends CANCELLED with its project free and nothing left training or deployed at the provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labeltune.adapters.s3_export import S3ExportService
from labeltune.domain.models import ExportStatus
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project, wait_for
from .test_bedrock import deployments_of, jobs_of, run_of, start_run


def execution_arn(stack: EmbeddedStack, run_id: str) -> str:
    assert stack.resources is not None
    return stack.resources.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"


def cancel(stack: EmbeddedStack, run_id: str) -> tuple[int, Any]:
    return http("POST", f"{stack.api_url}/runs/{run_id}/cancel")


def assert_cancelled_and_project_free(stack: EmbeddedStack, run_id: str, project: str) -> dict[str, Any]:
    run = wait_for(lambda: (r := run_of(stack, run_id))["status"] == "CANCELLED" and r, timeout=60)
    assert run["error"] == "Cancelled" and run["cancel_requested_at"] and run["finished_at"]
    execution = stack.wait_for_execution(run_id)
    # AWS aborts at once. moto's engine leaves a stopped execution that waits on a task token (AwaitFineTune) running
    # until the wait times out (fallback_check_seconds), then ends it FAILED without entering another state: its
    # end event closes the run the same way (RecordOutcome sees cancel_requested_at).
    assert execution["status"] in ("ABORTED", "FAILED")
    if execution["status"] == "FAILED":
        assert stack.states_visited(execution["executionArn"])[-1] == "AwaitFineTune"
    wait_for(lambda: not http("GET", f"{stack.api_url}/projects/{project}")[1].get("active_run_id"), timeout=10)
    return run


def start_again(stack: EmbeddedStack, project: str) -> str:
    """The project is free: a new run starts (and is cancelled at once, so it leaves nothing running)."""
    run_id = start_run(stack, project)
    status, _ = cancel(stack, run_id)
    assert status in (200, 202)
    wait_for(lambda: run_of(stack, run_id)["status"] in ("CANCELLED", "SUCCEEDED"), timeout=60)
    return run_id


@pytest.fixture
def slow_export(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Projects whose export stays in progress, as a Labelbox export of a large project does for minutes."""
    slow: set[str] = set()
    real = S3ExportService.export_status

    def export_status(self: S3ExportService, task_id: str) -> ExportStatus:
        if any(task_id == f"exports/{project}.ndjson" for project in slow):
            return ExportStatus.IN_PROGRESS
        return real(self, task_id)

    monkeypatch.setattr(S3ExportService, "export_status", export_status)
    yield slow


def test_a_run_cancelled_while_its_export_is_waited_on(stack: EmbeddedStack, slow_export: set[str]) -> None:
    project = new_project(stack)
    slow_export.add(project)
    run_id = start_run(stack, project)
    wait_for(lambda: "WaitForExport" in stack.states_visited(execution_arn(stack, run_id)), timeout=30)
    status, body = cancel(stack, run_id)
    assert status == 202, body
    assert body["run_id"] == run_id and body["status"] == "EXPORTING" and body["cancel_requested_at"]
    run = assert_cancelled_and_project_free(stack, run_id, project)
    assert run.get("provider_contacted") is None  # nothing reached a provider
    slow_export.discard(project)
    start_again(stack, project)


def test_an_openai_run_cancelled_while_training_cancels_its_job(stack: EmbeddedStack, long_jobs: None) -> None:
    project = new_project(stack, provider="openai")
    run_id = start_run(stack, project)
    job_id = wait_for(lambda: run_of(stack, run_id).get("job_id"), timeout=60)
    assert cancel(stack, run_id)[0] == 202
    run = assert_cancelled_and_project_free(stack, run_id, project)
    assert stack.emulator is not None
    assert stack.emulator.state.get_job(job_id)["status"] == "cancelled"
    assert run["jobs_cancelled"] == [job_id] and run["job_status"] == "cancelled"
    assert run["provider_files_deleted"] >= 1
    start_again(stack, project)


def test_a_bedrock_run_cancelled_while_training_stops_its_job(stack: EmbeddedStack, long_jobs: None) -> None:
    project = new_project(stack, provider="bedrock")
    run_id = start_run(stack, project)
    job_id = wait_for(lambda: run_of(stack, run_id).get("job_id"), timeout=60)
    assert cancel(stack, run_id)[0] == 202
    run = assert_cancelled_and_project_free(stack, run_id, project)
    assert run["jobs_cancelled"] == [job_id]
    assert [job["status"] for job in jobs_of(stack, run_id)] in (["Stopping"], ["Stopped"])
    start_again(stack, project)


def test_a_bedrock_run_cancelled_while_its_deployment_is_served_deletes_it(
    stack: EmbeddedStack, long_jobs: None
) -> None:
    assert stack.bedrock is not None
    stack.bedrock.state.job_duration_seconds = 1.0
    stack.bedrock.state.deployment_duration_seconds = 600.0
    project = new_project(stack, provider="bedrock")
    run_id = start_run(stack, project)
    endpoint = wait_for(lambda: run_of(stack, run_id).get("endpoint_id"), timeout=60)
    assert deployments_of(stack, run_id) != []
    status, body = cancel(stack, run_id)
    assert status == 202 and body["status"] == "TRAINING"  # serving is the last part of training: not yet EVALUATING
    run = assert_cancelled_and_project_free(stack, run_id, project)
    assert run["endpoints_deleted"] == [endpoint] and deployments_of(stack, run_id) == []
    assert [job["status"] for job in jobs_of(stack, run_id)] == ["Completed"]  # trained: nothing to stop


def test_a_second_cancel_answers_200_and_stops_nothing_more(stack: EmbeddedStack, slow_export: set[str]) -> None:
    project = new_project(stack)
    slow_export.add(project)
    run_id = start_run(stack, project)
    wait_for(lambda: run_of(stack, run_id).get("status") == "EXPORTING", timeout=30)
    first_status, first = cancel(stack, run_id)
    assert first_status == 202
    stopped = stack.wait_for_execution(run_id)["stopDate"]
    second_status, second = cancel(stack, run_id)
    assert second_status == 200 and second["cancel_requested_at"] == first["cancel_requested_at"]
    assert_cancelled_and_project_free(stack, run_id, project)
    third_status, third = cancel(stack, run_id)
    assert (third_status, third["status"]) == (200, "CANCELLED")
    assert stack.wait_for_execution(run_id)["stopDate"] == stopped
    ended = [event for event in stack.delivered_events if "ExecutionEndedBadly" in event[1]]
    assert ended and not any(failed for *_, failed in ended)
    slow_export.discard(project)


def test_a_succeeded_run_cannot_be_cancelled(stack: EmbeddedStack) -> None:
    project = new_project(stack, provider="openai")
    run_id = start_run(stack, project)
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    wait_for(lambda: run_of(stack, run_id)["status"] == "SUCCEEDED")
    status, body = cancel(stack, run_id)
    assert status == 409 and body["run_status"] == "SUCCEEDED"
    assert "cancel_requested_at" not in run_of(stack, run_id)


def test_unknown_and_invalid_runs(stack: EmbeddedStack) -> None:
    assert cancel(stack, "run-does-not-exist")[0] == 404
    assert cancel(stack, "run%20with%20spaces")[0] == 400


def test_the_pumps_event_has_the_shape_aws_sends() -> None:
    """Pinned against events/record_outcome_execution_ended.json (AWS's documented "Step Functions Execution Status
    Change" event), which the handler tests also parse."""
    import json
    from datetime import UTC, datetime
    from pathlib import Path

    from labeltune_tools.embedded.execution_events import status_change_event

    sample = json.loads((Path(__file__).parents[2] / "events" / "record_outcome_execution_ended.json").read_text())
    arn = "arn:aws:states:us-east-1:123456789012:execution:labeltune-pipeline:run-1"
    described = {
        "executionArn": arn,
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:labeltune-pipeline",
        "name": "run-1",
        "status": "ABORTED",
        "startDate": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        "stopDate": datetime(2026, 11, 20, 9, 5, tzinfo=UTC),
        "input": "{}",
    }
    event = status_change_event(described, "123456789012", "us-east-1")
    assert set(event) == set(sample) and set(event["detail"]) == set(sample["detail"])
    assert (event["source"], event["detail-type"], event["resources"]) == (
        sample["source"],
        sample["detail-type"],
        [arn],
    )
    assert event["detail"]["startDate"] == 1795165200000 and event["detail"]["stopDate"] == 1795165500000
    assert event["time"] == "2026-11-20T09:05:00Z" and event["detail"]["error"] is None
