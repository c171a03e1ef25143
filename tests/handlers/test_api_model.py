"""GET/POST /projects/{id}/model through the API's Lambda entry point (payload format 1.0) on moto: the current
model and its history, a rollback, and the answers to what cannot be done."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labeltune.domain.promotions import ModelPromotion
from tests.handlers.test_api_lambda import EVENTS, PROJECT, handler, invoke  # noqa: F401 (handler: the fixture)


def request(method: str, project_id: str, body: str | None = None) -> dict[str, Any]:
    """An API Gateway 1.0 event for /projects/{project_id}/model, from the sample GET /runs/{id} request."""
    event = json.loads((EVENTS / "api_get_run.json").read_text())
    path = f"/projects/{project_id}/model"
    event.update(
        resource="/projects/{project_id}/model",
        path=path,
        httpMethod=method,
        pathParameters={"project_id": project_id},
        body=body,
    )
    event["requestContext"].update(
        httpMethod=method, path=path, resourcePath=event["resource"], resourceId=f"{method} {event['resource']}"
    )
    return event


def answer(handler: Any, method: str, project_id: str = PROJECT, body: str | None = None) -> tuple[int, Any]:  # noqa: F811
    response = invoke(handler, request(method, project_id, body))
    return response["statusCode"], json.loads(response["body"])


def promoted(run_id: str) -> ModelPromotion:
    return ModelPromotion(
        run_id=run_id,
        provider="openai",
        model_id=f"ft:gpt-4.1-mini-2025-04-14:acme::{run_id}",
        endpoint_id=f"ft:gpt-4.1-mini-2025-04-14:acme::{run_id}",
        promoted_at="2026-11-26T10:00:00.000+00:00",
        reason="gate passed",
    )


def test_a_project_without_promotions_has_no_current_model(handler: Any) -> None:  # noqa: F811
    assert answer(handler, "GET") == (200, {"current": None, "history": []})


def test_the_current_model_and_a_rollback(handler: Any) -> None:  # noqa: F811
    from labeltune.wiring import services

    for run_id in ("run-a", "run-b"):
        services().projects.promote_model(PROJECT, promoted(run_id))
    status, body = answer(handler, "GET")
    assert status == 200 and body["current"]["run_id"] == "run-b"
    assert [entry["run_id"] for entry in body["history"]] == ["run-b", "run-a"]

    status, body = answer(handler, "POST", body=json.dumps({"run_id": "run-a"}))
    assert status == 200, body
    assert body["changed"] and body["current"]["run_id"] == "run-a"
    assert body["current"]["reason"] == "rollback to run-a"
    assert body["endpoint"] == {"endpoint_id": promoted("run-a").model_id, "state": "ready", "status": "served"}
    assert body["superseded_run_id"] == "run-b" and body["superseded_endpoints_deleted"] == []  # OpenAI: nothing
    assert [entry["run_id"] for entry in answer(handler, "GET")[1]["history"]] == ["run-a", "run-b", "run-a"]

    status, body = answer(handler, "POST", body=json.dumps({"run_id": "run-never"}))
    assert status == 409 and body["message"] == f"run run-never was never promoted for project {PROJECT}"


def test_an_unknown_project_is_404(handler: Any) -> None:  # noqa: F811
    assert answer(handler, "GET", "no-such-project") == (
        404,
        {"message": "unknown project", "project_id": "no-such-project"},
    )
    status, body = answer(handler, "POST", "no-such-project", json.dumps({"run_id": "run-a"}))
    assert status == 404 and body["message"] == "unknown project"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ("[]", 400),
        ("{}", 400),
        ('{"run_id": 7}', 400),
        ('{"run_id": "run a/../b"}', 400),
        ('{"run_id": "run-a", "force": true}', 400),
        (json.dumps({"run_id": "r" * 2000}), 413),
    ],
    ids=["not-json", "not-an-object", "no-run-id", "not-a-string", "not-a-run-id", "unknown-field", "too-large"],
)
def test_a_bad_rollback_request_is_refused_without_echoing_it(handler: Any, body: str, status: int) -> None:  # noqa: F811
    answered, reply = answer(handler, "POST", body=body)
    assert answered == status and reply["message"]
    assert "run a/../b" not in json.dumps(reply) and "force" not in json.dumps(reply)
