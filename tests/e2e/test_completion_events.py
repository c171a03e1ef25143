"""Completion by event on the local stack: the OpenAI emulator's signed webhooks reach POST /webhooks/openai,
the Bedrock emulator's job events reach the template's EventBridge rule's function, and either resumes the
waiting execution; with every event lost, the fallback check still finishes the run."""

from __future__ import annotations

import json
import uuid

import pytest

from labeltune_tools.embedded.stack import EmbeddedStack
from labeltune_tools.emulator.webhooks import signed_headers

from .conftest import PROJECT, http, new_project, wait_for
from .test_bedrock import run_of, start_run

# Between StartFineTune and ServeTunedModel: one wait, resumed by the event (no fallback look).
RESUMED_BY_EVENT = ["StartFineTune", "AwaitFineTune", "IsFineTuneFinished", "ServeTunedModel"]


def _fine_tune_states(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """From StartFineTune to the state after the wait (ServeTunedModel, or where a failed job goes)."""
    states = stack.states_visited(execution_arn)
    end = next(i for i, s in enumerate(states) if s in ("ServeTunedModel", "RecordFineTuneFailure", "RecordRunFailure"))
    return states[states.index("StartFineTune") : end + 1]


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_the_providers_event_resumes_the_run(stack: EmbeddedStack, provider: str) -> None:
    project = PROJECT if provider == "openai" else new_project(stack, provider="bedrock")
    run_id = start_run(stack, project)
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "SUCCEEDED"
    assert _fine_tune_states(stack, execution["executionArn"]) == RESUMED_BY_EVENT
    job_id = run_of(stack, run_id)["job_id"]
    assert "wait_token" not in http("GET", f"{stack.api_url}/runs/{run_id}")[1]
    if provider == "openai":
        assert stack.emulator is not None
        answered = [d for d in stack.emulator.webhook_deliveries if d.event["data"]["id"] == job_id]
        assert [d.status for d in answered] == [200]
    else:
        delivered = [d for d in stack.delivered_events if d[2].endswith("BedrockJobEventsFunction")]
        assert delivered and not any(failed for *_, failed in delivered)


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_with_every_event_lost_the_fallback_check_finishes_the_run(stack: EmbeddedStack, provider: str) -> None:
    project = PROJECT if provider == "openai" else new_project(stack, provider="bedrock")
    stack.drop_provider_events()
    try:
        run_id = start_run(stack, project)
        execution = stack.wait_for_execution(run_id)
    finally:
        stack.drop_provider_events(False)
    assert execution["status"] == "SUCCEEDED"
    states = _fine_tune_states(stack, execution["executionArn"])
    assert states.count("AwaitFineTune") >= 2, states  # timed out at least once, then looked and resumed itself
    assert run_of(stack, run_id)["job_state"] == "succeeded"


def _openai_webhook(stack: EmbeddedStack, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    return http("POST", f"{stack.api_url}/webhooks/openai", body, {"Content-Type": "application/json", **headers})


def test_an_unsigned_or_forged_openai_webhook_is_refused(stack: EmbeddedStack) -> None:
    assert stack.emulator is not None
    body = json.dumps({"id": "evt_1", "type": "fine_tuning.job.succeeded", "data": {"id": "ftjob-x"}}).encode()
    assert _openai_webhook(stack, body, {})[0] == 400
    forged = signed_headers("whsec_" + "A" * 44, "msg_1", body)
    status, answer = _openai_webhook(stack, body, forged)
    assert status == 400 and "could not be verified" in answer["message"]
    stale = signed_headers(stack.emulator.webhook_secret, "msg_2", body, timestamp=1_000_000_000)
    assert _openai_webhook(stack, body, stale)[0] == 400


def test_a_signed_webhook_of_another_kind_or_job_is_acknowledged_and_ignored(stack: EmbeddedStack) -> None:
    assert stack.emulator is not None
    secret = stack.emulator.webhook_secret
    other = json.dumps({"id": "evt_2", "type": "response.completed", "data": {"id": "resp_1"}}).encode()
    status, answer = _openai_webhook(stack, other, signed_headers(secret, f"msg_{uuid.uuid4().hex}", other))
    assert (status, answer["result"]) == (200, "ignored")
    # A job this stack never created (the emulator answers 404 for it) is not a run's business either.
    unknown = json.dumps({"id": "evt_3", "type": "fine_tuning.job.succeeded", "data": {"id": "ftjob-nope"}}).encode()
    status, answer = _openai_webhook(stack, unknown, signed_headers(secret, f"msg_{uuid.uuid4().hex}", unknown))
    assert (status, answer["result"]) == (200, "not_ours")


def test_a_job_cancelled_at_openai_fails_the_run_at_once_with_its_status(stack: EmbeddedStack) -> None:
    """Someone cancels the job in OpenAI's dashboard: its `fine_tuning.job.cancelled` webhook ends the wait, and the
    run fails with the provider's status instead of waiting for the next look."""
    assert stack.emulator is not None
    run_id = start_run(stack, PROJECT)
    job_id = wait_for(lambda: run_of(stack, run_id).get("job_id"))
    stack.emulator.state.cancel_job(job_id)
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "FAILED"
    assert stack.states_visited(execution["executionArn"])[-2:] == ["RecordFineTuneFailure", "FineTuneFailed"]
    assert _fine_tune_states(stack, execution["executionArn"])[:3] == [
        "StartFineTune",
        "AwaitFineTune",
        "IsFineTuneFinished",
    ]
    run = run_of(stack, run_id)
    assert (run["status"], run["error"], run["job_status"]) == ("FAILED", "FineTuneFailed", "cancelled")
