"""Every run status change reaches EventBridge as one "Run Status Change" event, in order: the runs table's stream
(moto) read by the stack's pump, the real RunEventsFunction invoked through moto, its PutEvents on moto's default
bus, and a rule of this test's own routing them to an SQS queue, as a team would route them to chat."""

from __future__ import annotations

import json
import uuid
from typing import Any

from labeltune_tools.embedded.iam_check import denied_calls
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project, wait_for

DETAIL_KEYS = {"run_id", "project_id", "status", "previous_status", "status_changed_at"}


def _start_run(stack: EmbeddedStack, project: str) -> str:
    headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
    status, body = http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}", headers)
    assert status == 202, body
    return str(body["run_id"])


def _route_to_queue(stack: EmbeddedStack, project: str) -> str:
    """A rule on the default bus for this project's run events, targeting a new queue; the queue's URL."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=f"run-events-{project}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["labeltune"], "detail-type": ["Run Status Change"], "detail": {"project_id": [project]}}
    events.put_rule(Name=f"run-events-{project}", EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"run-events-{project}", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def test_a_run_emits_one_event_per_status_change_in_order(stack: EmbeddedStack) -> None:
    project = new_project(stack)
    queue = _route_to_queue(stack, project)
    run_id = _start_run(stack, project)
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"

    received: list[dict[str, Any]] = []

    def finished() -> bool:
        answer = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        received.extend(json.loads(message["Body"]) for message in answer.get("Messages", []))
        return any(event["detail"]["status"] == "SUCCEEDED" for event in received)

    wait_for(finished, timeout=30)
    assert {(event["source"], event["detail-type"]) for event in received} == {("labeltune", "Run Status Change")}
    details = [event["detail"] for event in received]
    assert all(d["run_id"] == run_id for d in details)
    statuses = [d["status"] for d in details]
    assert statuses == ["STARTED", "EXPORTING", "PREPARING", "TRAINING", "EVALUATING", "SUCCEEDED"]
    assert [d["previous_status"] for d in details] == [None, *statuses[:-1]]
    assert all(set(d) == DETAIL_KEYS for d in details), "ids and status words only"
    stamps = [d["status_changed_at"] for d in details]
    assert stamps == sorted(stamps) and all(stamps)
    record = stack.get_run(run_id)
    assert record is not None and record["status_changed_at"] == stamps[-1]


def test_the_functions_put_events_are_allowed_by_its_role_only_on_the_default_bus(stack: EmbeddedStack) -> None:
    assert stack.resources is not None
    function = stack.resources.function_names["RunEventsFunction"]
    wait_for(lambda: any(c.function == function and c.operation == "PutEvents" for c in RUNTIME.calls), timeout=30)
    calls = [c for c in RUNTIME.calls if c.function == function]
    assert {(c.service, c.operation) for c in calls} == {("events", "PutEvents")}
    assert denied_calls(calls, stack.resources.role_policies, stack.resources.region) == []
    assert stack.run_stream is not None and stack.run_stream.skipped == []
