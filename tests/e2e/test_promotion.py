"""The promotion gate on the real state machine: a run whose model passes becomes its project's current model,
one that fails does not, and a rollback makes an earlier model current again over HTTP. For Bedrock, the current
model's deployment is kept, the superseded one deleted, and a rollback deploys the earlier model again.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from labeltune.domain.run_ids import new_manual_run_id
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project


def run_to_the_end(stack: EmbeddedStack, project: str) -> dict[str, Any]:
    key = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    status, body = http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}", headers)
    assert status == 202, body
    run_id = new_manual_run_id(project, key)
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    run = stack.get_run(run_id)
    assert run is not None
    return run


def model_of(stack: EmbeddedStack, project: str) -> dict[str, Any]:
    status, body = http("GET", f"{stack.api_url}/projects/{project}/model")
    assert status == 200, body
    return dict(body)


def roll_back(stack: EmbeddedStack, project: str, run_id: str) -> tuple[int, Any]:
    body = json.dumps({"run_id": run_id}).encode()
    return http("POST", f"{stack.api_url}/projects/{project}/model", body, {"Content-Type": "application/json"})


def deployments_of(stack: EmbeddedStack, run_id: str) -> list[dict[str, Any]]:
    assert stack.bedrock is not None
    return [d for d in stack.bedrock.deployments() if d["modelDeploymentName"].endswith(run_id)]


def test_passing_runs_are_promoted_and_a_rollback_restores_an_earlier_model(stack: EmbeddedStack) -> None:
    project = new_project(stack, provider="openai")
    assert model_of(stack, project) == {"current": None, "history": []}
    first = run_to_the_end(stack, project)
    assert first["evaluation_passed"] is True and first["promoted_at"]
    assert model_of(stack, project)["current"]["run_id"] == first["run_id"]
    second = run_to_the_end(stack, project)
    model = model_of(stack, project)
    assert model["current"]["model_id"] == second["fine_tuned_model"]
    assert [e["run_id"] for e in model["history"]] == [second["run_id"], first["run_id"]]

    status, body = roll_back(stack, project, first["run_id"])
    assert status == 200, body
    assert (
        body["current"]["run_id"] == first["run_id"] and body["current"]["reason"] == f"rollback to {first['run_id']}"
    )
    assert [e["run_id"] for e in model_of(stack, project)["history"]] == [
        first["run_id"],
        second["run_id"],
        first["run_id"],
    ]

    status, body = roll_back(stack, project, "run-never-promoted")
    assert status == 409 and "never promoted" in body["message"]
    assert http("GET", f"{stack.api_url}/projects/project-unknown-{uuid.uuid4().hex[:8]}/model")[0] == 404


def test_a_run_that_fails_its_gate_is_not_promoted(stack: EmbeddedStack) -> None:
    project = new_project(stack, provider="openai", evaluation={"min_rouge_l": 1.0})  # no summary is perfect
    run = run_to_the_end(stack, project)
    assert run["evaluation_passed"] is False and "promoted_at" not in run
    assert model_of(stack, project) == {"current": None, "history": []}
    assert roll_back(stack, project, run["run_id"])[0] == 409


def test_bedrock_keeps_the_current_models_deployment_and_a_rollback_deploys_the_earlier_one(
    stack: EmbeddedStack,
) -> None:
    project = new_project(stack, provider="bedrock")
    first = run_to_the_end(stack, project)
    assert first["evaluation_passed"] is True
    assert first["endpoint_kept"] == first["endpoint_id"] and [
        d["status"] for d in deployments_of(stack, first["run_id"])
    ] == ["Active"]
    second = run_to_the_end(stack, project)
    assert second["superseded_run_id"] == first["run_id"]
    assert second["superseded_endpoints_deleted"] == [first["endpoint_id"]]
    assert deployments_of(stack, first["run_id"]) == [] and len(deployments_of(stack, second["run_id"])) == 1

    status, body = roll_back(stack, project, first["run_id"])
    assert status == 200, body
    assert body["superseded_run_id"] == second["run_id"]
    assert deployments_of(stack, second["run_id"]) == []
    (again,) = deployments_of(stack, first["run_id"])  # deployed again, under the run's name
    assert body["current"]["endpoint_id"] == again["customModelDeploymentArn"] == body["endpoint"]["endpoint_id"]
    assert body["current"]["model_id"] == first["fine_tuned_model"]
    assert stack.bedrock is not None
    stack.bedrock.client("bedrock").delete_custom_model_deployment(
        customModelDeploymentIdentifier=again["customModelDeploymentArn"]
    )
