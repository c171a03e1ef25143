"""Issue 3's trigger rules over HTTP on the local stack: idempotent deliveries, one run in flight,
one follow-up run, and nothing trained that is not Done."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import EXPORT, http, new_project, wait_for
from .test_pipeline import deliver


def project_state(stack: EmbeddedStack, project: str) -> dict[str, Any]:
    from labeltune.adapters.dynamodb_projects import DynamoProjectStore

    assert stack.resources is not None
    table = stack.resources.ref("ProjectsTable")
    store = DynamoProjectStore(table, resource=stack.client_session().resource("dynamodb"))
    return store.get_project(project) or {}


def runs_of(stack: EmbeddedStack, project: str) -> list[str]:
    return [e["name"] for e in stack.executions() if (stack.get_run(e["name"]) or {}).get("project_id") == project]


def test_twenty_repeated_deliveries_count_once(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=5)
    delivery = f"repeat-{uuid.uuid4().hex}"
    replies = [deliver(stack, project, delivery) for _ in range(20)]
    assert {status for status, _ in replies} == {202}
    assert project_state(stack, project)["pending_labels"] == 1
    assert runs_of(stack, project) == []


def test_one_signed_body_replayed_under_fresh_delivery_ids_counts_once(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=2)
    replies = [deliver(stack, project, f"fresh-{uuid.uuid4().hex}", row="dr-captured") for _ in range(20)]
    assert {status for status, _ in replies} == {202}
    assert [body["counted"] for _, body in replies] == [True] + [False] * 19
    assert project_state(stack, project)["pending_labels"] == 1
    assert runs_of(stack, project) == []
    status, listed = http("GET", f"{stack.api_url}/projects/{project}/deliveries")
    assert status == 200 and len(listed["deliveries"]) == 20  # every delivery on record, newest first
    assert sorted(d["verdict"] for d in listed["deliveries"]) == ["already_counted"] * 19 + ["counted"]
    assert {d["data_row_id"] for d in listed["deliveries"]} == {"dr-captured"}


def test_a_claim_left_by_a_killed_api_invocation_is_recovered_with_its_labels(stack: EmbeddedStack) -> None:
    """The API function died between claiming the project and StartExecution: the claim and a STARTED run record
    are left, with no execution. The next delivery recovers it (the claim is older than the grace period)."""
    from labeltune.adapters.dynamodb_runs import DynamoRunStore

    project = new_project(stack, min_new_labels=3)
    for _ in range(2):
        deliver(stack, project)
    assert stack.resources is not None
    dynamodb = stack.client_session().resource("dynamodb")
    orphan = f"run-orphan{uuid.uuid4().hex[:14]}"
    DynamoRunStore(stack.resources.table_name, resource=dynamodb).create_run(orphan, project, status="STARTED")
    dynamodb.Table(stack.resources.ref("ProjectsTable")).update_item(
        Key={"project_id": project},
        UpdateExpression="SET active_run_id = :run, active_run_started_at = :long_ago, "
        "active_run_labels = pending_labels, pending_labels = :zero ADD run_generation :one",
        ExpressionAttributeValues={":run": orphan, ":long_ago": "2026-01-01T00:00:00.000+00:00", ":zero": 0, ":one": 1},
    )
    status, body = deliver(stack, project)
    assert status == 202 and body["run_id"], body  # 2 recovered + 1 new = the threshold of 3
    assert stack.get_run(body["run_id"])["labels_consumed"] == 3
    assert (stack.get_run(orphan)["status"], stack.get_run(orphan)["error"]) == ("FAILED", "StartFailed")
    assert stack.wait_for_execution(body["run_id"])["status"] == "SUCCEEDED"


def test_concurrent_triggers_start_exactly_one_run(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda i: deliver(stack, project, f"c-{uuid.uuid4().hex}"), range(12)))
    assert {status for status, _ in replies} == {202}
    started = {body["run_id"] for _, body in replies if body.get("run_id")}
    assert len(started) == 1
    (run_id,) = started
    assert runs_of(stack, project) == [run_id]
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"


def test_labels_arriving_during_a_run_lead_to_exactly_one_follow_up(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=2)
    deliver(stack, project)
    _, second = deliver(stack, project)
    first_run = second["run_id"]
    assert first_run
    during = [deliver(stack, project)[1] for _ in range(3)]
    first = stack.get_run(first_run) or {}
    assert all(body["run_id"] is None and body["active_run_id"] == first_run for body in during), (
        during,
        {k: first.get(k) for k in ("status", "error", "error_message")},
    )
    assert stack.wait_for_execution(first_run)["status"] == "SUCCEEDED"

    follow_up = wait_for(lambda: stack.get_run(first_run) and project_state(stack, project).get("active_run_id"))
    assert follow_up != first_run
    assert stack.get_run(follow_up)["triggered_by"] == "follow-up"
    assert stack.get_run(follow_up)["follows_run_id"] == first_run
    assert stack.wait_for_execution(follow_up)["status"] == "SUCCEEDED"
    assert sorted(runs_of(stack, project)) == sorted([first_run, follow_up])  # and no third run
    assert "active_run_id" not in project_state(stack, project)


def test_rows_not_done_are_never_trained_on(stack: EmbeddedStack) -> None:
    project = new_project(stack, min_new_labels=1)
    _, body = deliver(stack, project)
    run_id = body["run_id"]
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    rows = [json.loads(line) for line in EXPORT.read_text().splitlines()]
    not_done = {
        row["data_row"]["id"]
        for row in rows
        if next(iter(row["projects"].values()))["project_details"]["workflow_status"] != "DONE"
    }
    assert not_done, "the sample export should hold rows in review or rework"
    assert stack.resources is not None
    s3 = stack.client("s3")
    texts = {row["data_row"]["id"]: row["data_row"]["row_data"] for row in rows if row["data_row"]["id"] in not_done}
    for name in ("train.jsonl", "validation.jsonl", "eval.jsonl"):
        body_text = (
            s3.get_object(Bucket=stack.resources.bucket_name, Key=f"runs/{run_id}/dataset/{name}")["Body"]
            .read()
            .decode()
        )
        assert not any(text and text.strip() in body_text for text in texts.values())
    rejected = s3.get_object(Bucket=stack.resources.bucket_name, Key=f"runs/{run_id}/dataset/rejected.ndjson")
    reasons = {json.loads(line)["data_row_id"]: json.loads(line)["reason"] for line in rejected["Body"].iter_lines()}
    assert {reasons[row_id] for row_id in not_done} <= {"not_done"}
    assert not_done <= set(reasons)
