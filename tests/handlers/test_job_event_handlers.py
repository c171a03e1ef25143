"""The completion-event entry points in Lambda mode: OpenAI's webhook on API Gateway's payload 1.0 (verified by
the SDK, answered 200/400/503 as OpenAI's retries expect) and Bedrock's EventBridge event, each resuming the
run waiting for the job. The services are fakes; the pipeline's own rules are in tests/pipeline/test_completion.py.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openai import OpenAI

from labeltune.adapters.openai_webhooks import OpenAIWebhooks
from labeltune.domain.models import WAIT_TOKEN, JobState
from labeltune.errors import ConfigurationError
from labeltune.handlers import bedrock_job_events, openai_job_events
from labeltune_tools.embedded.lambda_runtime import LambdaContext
from labeltune_tools.emulator.webhooks import generate_webhook_secret, signed_headers
from tests.fakes import InMemoryRunStore, RecordingCallbacks
from tests.handlers.test_api_lambda import FORMAT_1_0
from tests.pipeline.test_completion import SwitchedProvider

EVENTS = Path(__file__).resolve().parents[2] / "events"
RUN = "run-0123456789abcdef01234567"
SECRET = generate_webhook_secret()


def _context(name: str) -> LambdaContext:
    return LambdaContext(name, 512, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", 60)


@pytest.fixture
def svc(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    provider = SwitchedProvider()
    runs = InMemoryRunStore()
    callbacks = RecordingCallbacks()
    secret = {"value": SECRET}

    def read_secret() -> str:
        if secret["value"] is None:
            raise ConfigurationError("the OpenAI webhook secret holds no key yet")
        return secret["value"]

    client = OpenAI(api_key="unused-in-verification", base_url="http://127.0.0.1:9/v1")
    services = SimpleNamespace(
        runs=runs,
        callbacks=callbacks,
        provider=provider,
        secret=secret,
        openai_webhooks=OpenAIWebhooks(client, read_secret),
        fine_tuning=lambda name: provider,
    )
    monkeypatch.setattr(openai_job_events, "services", lambda: services)
    monkeypatch.setattr(bedrock_job_events, "services", lambda: services)
    return services


def _waiting_run(svc: SimpleNamespace, job_id: str, provider: str) -> str:
    svc.provider.add(job_id, RUN)
    svc.runs.create_run(RUN, "proj-1", job_id=job_id, provider=provider)
    token = svc.callbacks.open_token("token-1")
    svc.runs.update_run(RUN, **{WAIT_TOKEN: token})
    return token


def _webhook(event_type: str, job_id: str, *, secret: str = SECRET, at: int | None = None) -> dict[str, Any]:
    """The sample API Gateway event with a body of this type, signed now (or at `at`)."""
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / "api_webhook_openai.json").read_text()))
    body = json.dumps({"id": "evt_1", "object": "event", "created_at": 1, "type": event_type, "data": {"id": job_id}})
    headers = {k: v for k, v in event["headers"].items() if not k.startswith("webhook-")}
    event["headers"] = {**headers, **signed_headers(secret, "msg_1", body.encode(), at or int(time.time()))}
    event["body"] = body
    return event


def _answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = openai_job_events.handler(event, _context("OpenAIJobEventsFunction"))
    assert set(response) <= FORMAT_1_0 and {"statusCode", "body"} <= set(response)
    return response["statusCode"], json.loads(response["body"])


def test_a_signed_succeeded_webhook_resumes_the_waiting_run(svc: SimpleNamespace) -> None:
    token = _waiting_run(svc, "ftjob-1", "openai")
    svc.provider.finish("ftjob-1")
    status, body = _answer(_webhook("fine_tuning.job.succeeded", "ftjob-1"))
    assert (status, body["result"], body["job_id"]) == (200, "resumed", "ftjob-1")
    [(resumed, output)] = svc.callbacks.resumed
    assert resumed == token and output["state"] == JobState.SUCCEEDED.value
    # OpenAI delivers again (it may): acknowledged, nothing resumed twice.
    assert _answer(_webhook("fine_tuning.job.succeeded", "ftjob-1"))[1]["result"] == "already_resumed"
    assert len(svc.callbacks.resumed) == 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            lambda: _webhook("fine_tuning.job.succeeded", "ftjob-1", secret=generate_webhook_secret()), id="forged"
        ),
        pytest.param(lambda: _webhook("fine_tuning.job.succeeded", "ftjob-1", at=1_000_000_000), id="stale"),
        pytest.param(lambda: {**_webhook("fine_tuning.job.succeeded", "ftjob-1"), "headers": {}}, id="unsigned"),
        pytest.param(lambda: {**_webhook("fine_tuning.job.succeeded", "ftjob-1"), "body": "{not json"}, id="altered"),
    ],
)
def test_a_delivery_that_fails_verification_is_refused_and_resumes_nothing(svc: SimpleNamespace, event: Any) -> None:
    _waiting_run(svc, "ftjob-1", "openai")
    svc.provider.finish("ftjob-1")
    status, body = _answer(event())
    assert status == 400 and body == {"message": "the delivery could not be verified as OpenAI's"}
    assert svc.callbacks.resumed == []


def test_without_its_secret_the_endpoint_answers_503_so_openai_retries(svc: SimpleNamespace) -> None:
    svc.secret["value"] = None
    status, body = _answer(_webhook("fine_tuning.job.succeeded", "ftjob-1"))
    assert status == 503 and "not configured" in body["message"]


def test_other_event_types_are_acknowledged_and_ignored(svc: SimpleNamespace) -> None:
    status, body = _answer(_webhook("batch.completed", "batch_1"))
    assert (status, body["result"]) == (200, "ignored")


def test_bedrocks_job_state_change_resumes_the_waiting_run(svc: SimpleNamespace) -> None:
    event = json.loads((EVENTS / "bedrock_job_events_completed.json").read_text())
    job_arn = event["detail"]["jobArn"]
    token = _waiting_run(svc, job_arn, "bedrock")
    svc.provider.finish(job_arn)
    result = bedrock_job_events.handler(event, _context("BedrockJobEventsFunction"))
    assert result == {"event_id": event["id"], "job_id": job_arn, "result": "resumed"}
    assert [t for t, _ in svc.callbacks.resumed] == [token]


def test_a_bedrock_event_without_the_job_is_refused_before_any_work(svc: SimpleNamespace) -> None:
    event = json.loads((EVENTS / "bedrock_job_events_completed.json").read_text())
    del event["detail"]["jobArn"]
    with pytest.raises(ValueError):
        bedrock_job_events.handler(event, _context("BedrockJobEventsFunction"))
    assert svc.callbacks.resumed == []
