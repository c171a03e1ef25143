"""The IAM check sees every AWS call a function makes, through whatever session made the client.

Powertools' parameters (secrets) and idempotency utilities make their own boto3 sessions; the check used to
see only the default session's calls, so with every Secrets Manager and every idempotency-table statement
removed from every role it still reported nothing.
"""

from __future__ import annotations

from typing import Any

from labeltune_tools.embedded.iam_check import denied_calls
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack
from labeltune_tools.embedded.wiring_check import findings

from .conftest import new_project
from .test_pipeline import deliver


def _run_once(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=1)
    status, body = deliver(stack, project)
    assert status == 202 and body["run_id"]
    assert stack.wait_for_execution(body["run_id"])["status"] == "SUCCEEDED"


def _without(policies: dict[str, list[dict[str, Any]]], drop: Any) -> dict[str, list[dict[str, Any]]]:
    """The role documents with every statement `drop` matches removed."""
    return {
        function: [
            {**document, "Statement": [s for s in document["Statement"] if not drop(s)]} for document in documents
        ]
        for function, documents in policies.items()
    }


def test_calls_through_every_session_are_checked_and_allowed(stack: EmbeddedStack) -> None:
    _run_once(stack)
    assert stack.resources is not None
    services = {(call.function.rsplit("-", 1)[-1], call.service) for call in RUNTIME.calls}
    assert ("ApiFunction", "secretsmanager") in services  # the project's webhook secret (Powertools parameters)
    assert ("StartFineTuneFunction", "secretsmanager") in services  # the OpenAI key
    idempotency = stack.resources.ref("IdempotencyTable")
    assert any(call.params.get("TableName") == idempotency for call in RUNTIME.calls)  # Powertools idempotency
    assert denied_calls(RUNTIME.calls, stack.resources.role_policies, stack.resources.region) == []
    assert findings(stack.resources, RUNTIME.calls) == []


def test_removing_every_secrets_manager_grant_is_reported(stack: EmbeddedStack) -> None:
    assert stack.resources is not None
    policies = _without(stack.resources.role_policies, lambda s: "secretsmanager" in str(s["Action"]))
    denied = denied_calls(RUNTIME.calls, policies, stack.resources.region)
    functions = {d.function.rsplit("-", 1)[-1] for d in denied if d.action == "secretsmanager:GetSecretValue"}
    assert {"ApiFunction", "StartFineTuneFunction", "CheckFineTuneFunction", "EvaluateFunction"} <= functions
    assert any("labelbox-webhook/" in d.resource for d in denied)  # a project's own secret, read by name


def test_removing_the_idempotency_table_grants_is_reported(stack: EmbeddedStack) -> None:
    assert stack.resources is not None
    table = stack.resources.physical["IdempotencyTable"]["Arn"]
    policies = _without(stack.resources.role_policies, lambda s: table in str(s.get("Resource")))
    denied = denied_calls(RUNTIME.calls, policies, stack.resources.region)
    assert denied and {d.resource for d in denied} == {table}
    assert {d.action for d in denied} >= {"dynamodb:PutItem"}
