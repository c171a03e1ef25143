"""GET /projects/{id}/runs pages and GET /runs/{id}/timeline over HTTP on the local stack (the real handler, moto's
DynamoDB index and Step Functions history)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from labeltune.adapters.dynamodb_runs import DynamoRunStore
from labeltune.clock import parse_iso
from labeltune.domain.pagination import PageKey, encode_token
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project
from .test_bedrock import start_run

RUNS = 123


class TickingClock:
    def __init__(self) -> None:
        self.now = parse_iso("2026-11-20T09:00:00+00:00")

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def fill(stack: EmbeddedStack, project: str, count: int) -> list[str]:
    """`count` finished runs of the project, one second apart (written as the run store writes them)."""
    assert stack.resources is not None
    store = DynamoRunStore(stack.resources.table_name, stack.client_session().resource("dynamodb"), TickingClock())
    ids = [f"run-page-{project}-{n:04d}" for n in range(count)]
    for run_id in ids:
        store.create_run(run_id, project, status="SUCCEEDED")
    return ids


def page(stack: EmbeddedStack, project: str, query: str = "") -> tuple[int, dict]:
    return http("GET", f"{stack.api_url}/projects/{project}/runs{query}")


def test_pages_cover_every_run_once_newest_first(stack: EmbeddedStack) -> None:
    project = new_project(stack)
    ids = fill(stack, project, RUNS)
    seen: list[str] = []
    sizes = []
    token = None
    while True:
        status, body = page(stack, project, "?limit=50" + (f"&next_token={quote(token)}" if token else ""))
        assert status == 200, body
        assert body["project_id"] == project
        seen += [run["run_id"] for run in body["runs"]]
        sizes.append(len(body["runs"]))
        token = body["next_token"]
        if token is None:
            break
    assert sizes == [50, 50, 23]
    assert seen == list(reversed(ids))
    status, body = page(stack, project)  # the default page
    assert status == 200 and len(body["runs"]) == 50 and body["next_token"]
    status, body = page(stack, project, "?limit=100")
    assert len(body["runs"]) == 100
    status, last = page(stack, project, f"?limit=100&next_token={body['next_token']}")
    assert [run["run_id"] for run in last["runs"]] == list(reversed(ids))[100:] and last["next_token"] is None


def test_a_page_that_ends_the_listing_has_no_next_token(stack: EmbeddedStack) -> None:
    project = new_project(stack)
    fill(stack, project, 4)
    status, body = page(stack, project, "?limit=4")
    assert status == 200 and len(body["runs"]) == 4 and body["next_token"] is None


def test_bad_limits_and_tokens_are_400s(stack: EmbeddedStack) -> None:
    project, other = new_project(stack), new_project(stack)
    fill(stack, project, 3)
    ids = fill(stack, other, 3)
    foreign = encode_token(PageKey(other, "2026-11-20T09:00:02.000+00:00", ids[1]))
    _, body = page(stack, project, "?limit=1")
    good = body["next_token"]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for query in ["?limit=0", "?limit=101", "?limit=abc", "?limit=", "?limit=-5"]:
        status, body = page(stack, project, query)
        assert status == 400 and body["errors"][0]["field"] == "limit", (query, body)
    for token in ["garbage", "%00%01", "e30", tampered, foreign, "x" * 3000, quote('{"v":1}')]:
        status, body = page(stack, project, f"?next_token={token}")
        assert status == 400 and body["errors"][0]["field"] == "next_token", (token[:40], body)
        assert "message" in body
    # The other project's token still works where it belongs.
    status, body = page(stack, other, f"?next_token={foreign}")
    assert status == 200 and [run["run_id"] for run in body["runs"]] == [ids[0]]


def test_the_timeline_of_a_run_that_succeeded(stack: EmbeddedStack) -> None:
    project = new_project(stack, provider="openai")
    run_id = start_run(stack, project)
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "SUCCEEDED"
    status, body = http("GET", f"{stack.api_url}/runs/{run_id}/timeline")
    assert status == 200, body
    assert body["run_id"] == run_id and body["execution_status"] == "SUCCEEDED" and body["truncated"] is False
    assert body["started_at"] and body["stopped_at"] and body["started_at"] <= body["stopped_at"]
    names = [state["name"] for state in body["states"]]
    visited = [name for name in stack.states_visited(execution["executionArn"]) if name != "EvaluateChunk"]
    assert names == visited  # in order; a Map's iterations are its own business
    assert names[0] == "StartExport" and names[-2:] == ["RecordRunSuccess", "RunSucceeded"]
    for state in body["states"]:
        assert state["outcome"] == "succeeded" and state["duration_seconds"] >= 0, state
        assert state["entered_at"] <= state["exited_at"]
    assert [s["entered_at"] for s in body["states"]] == sorted(s["entered_at"] for s in body["states"])


def test_the_timeline_of_unknown_and_invalid_runs(stack: EmbeddedStack) -> None:
    assert http("GET", f"{stack.api_url}/runs/run-nothing-here/timeline")[0] == 404
    assert http("GET", f"{stack.api_url}/runs/bad%20id/timeline")[0] == 400
