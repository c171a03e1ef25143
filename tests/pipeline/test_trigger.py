"""A webhook delivery or a manual request becomes exactly one run, however often it is repeated."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from labeltune.adapters.memory import InMemoryRunStore, RecordingStarter
from labeltune.domain.run_ids import is_valid_run_id, run_id_for_delivery
from labeltune.domain.signature import sign
from labeltune.pipeline.trigger import accept_labelbox_webhook, request_manual_run

SECRET = "5d41402abc4b2a76b9719d911017c592"
PROJECT = "clx-support-summaries-demo"
POLL = 300


def v1_body(project_id: str = PROJECT, label_id: str = "lbl-1") -> bytes:
    """A v1 (SDK-created webhook) payload: `label` is a JSON string, the project under `project.id`."""
    payload = {
        "id": label_id,
        "label": json.dumps({"classifications": [{"title": "summary", "answer": "A summary."}]}),
        "dataRow": {"id": "dr-1"},
        "project": {"id": project_id},
        "createdAt": "2026-03-02T10:00:00.000Z",
    }
    return json.dumps(payload).encode()


def headers(body: bytes, delivery: str | None = "delivery-1", event: str = "LABEL_CREATED") -> dict[str, str]:
    result = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body), "X-Labelbox-Event": event}
    if delivery is not None:
        result["X-Labelbox-Id"] = delivery
    return result


@pytest.fixture
def runs() -> InMemoryRunStore:
    return InMemoryRunStore()


@pytest.fixture
def starter() -> RecordingStarter:
    return RecordingStarter()


def deliver(body: bytes, hdrs: dict[str, str], runs: InMemoryRunStore, starter: RecordingStarter) -> Any:
    return accept_labelbox_webhook(body, hdrs, SECRET, runs, starter, POLL)


def test_accepted_delivery_creates_and_starts_one_run(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    reply = deliver(body, headers(body), runs, starter)

    run_id = run_id_for_delivery(PROJECT, "delivery-1")
    assert reply.status_code == 202
    assert reply.body == {"run_id": run_id, "project_id": PROJECT, "duplicate": False}
    assert is_valid_run_id(run_id)
    run = runs.get_run(run_id)
    assert run is not None
    assert run["project_id"] == PROJECT
    assert run["status"] == "STARTED"
    assert (run["trigger"], run["trigger_event"], run["delivery_id"]) == ("webhook", "LABEL_CREATED", "delivery-1")
    assert starter.calls == [(run_id, {"run_id": run_id, "project_id": PROJECT, "poll_interval_seconds": POLL})]


@pytest.mark.parametrize(
    "bad_headers",
    [
        {},
        {"X-Hub-Signature-256": sign("wrong-secret", v1_body()), "X-Labelbox-Id": "d"},
        {"X-Hub-Signature-256": "sha256=", "X-Labelbox-Id": "d"},
    ],
    ids=["unsigned", "wrong-secret", "empty-signature"],
)
def test_bad_signature_is_401_and_nothing_happens(
    bad_headers: dict[str, str], runs: InMemoryRunStore, starter: RecordingStarter
) -> None:
    reply = deliver(v1_body(), bad_headers, runs, starter)
    assert reply.status_code == 401
    assert "run_id" not in reply.body
    assert runs.items == {}
    assert starter.calls == []


def test_body_changed_after_signing_is_401(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    reply = deliver(v1_body(project_id="another-project"), headers(body), runs, starter)
    assert reply.status_code == 401
    assert runs.items == {} and starter.calls == []


@pytest.mark.parametrize(
    "body", [b"not json", b'{"project": ', b"\xff\xfe\x00garbage"], ids=["text", "truncated", "binary"]
)
def test_signed_non_json_is_400(body: bytes, runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    reply = deliver(body, headers(body), runs, starter)
    assert reply.status_code == 400
    assert runs.items == {} and starter.calls == []


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "lbl-1", "dataRow": {"id": "dr-1"}},
        {"project": {"id": ""}},
        {"project": {}},
        {"project": "clx-1"},
        {"projects": {}},
        {"projects": {"p1": {}, "p2": {}}},
        [{"project": {"id": PROJECT}}],
        "just a string",
    ],
    ids=["no-project", "empty-id", "no-id", "project-str", "projects-empty", "two-projects", "list", "string"],
)
def test_payload_without_a_project_is_400(payload: Any, runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = json.dumps(payload).encode()
    reply = deliver(body, headers(body), runs, starter)
    assert reply.status_code == 400
    assert runs.items == {} and starter.calls == []


def test_repeated_delivery_is_one_run(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    first = deliver(body, headers(body), runs, starter)
    second = deliver(body, headers(body), runs, starter)

    assert first.status_code == second.status_code == 202
    assert second.body["run_id"] == first.body["run_id"]
    assert (first.body["duplicate"], second.body["duplicate"]) == (False, True)
    assert list(runs.items) == [first.body["run_id"]]
    # the starter is asked again (that repairs a start lost after the run was created) and starts nothing
    assert [run_id for run_id, _ in starter.calls] == [first.body["run_id"]] * 2
    assert list(starter.started) == [first.body["run_id"]]


def test_repeated_delivery_with_a_different_body_is_still_one_run(
    runs: InMemoryRunStore, starter: RecordingStarter
) -> None:
    # The delivery id, not the body, identifies a delivery (a retry may be re-serialised).
    a, b = v1_body(label_id="lbl-1"), v1_body(label_id="lbl-1-retry")
    first = deliver(a, headers(a), runs, starter)
    second = deliver(b, headers(b), runs, starter)
    assert second.body == {**first.body, "duplicate": True}
    assert len(runs.items) == 1


def test_a_start_lost_after_the_run_was_created_is_repaired_by_the_repeat(
    runs: InMemoryRunStore, starter: RecordingStarter
) -> None:
    body = v1_body()
    run_id = run_id_for_delivery(PROJECT, "delivery-1")
    runs.create_run(run_id, PROJECT, status="STARTED")  # the first attempt got this far, then died
    reply = deliver(body, headers(body), runs, starter)
    assert reply.body["duplicate"] is True
    assert list(starter.started) == [run_id]


def test_different_deliveries_are_different_runs(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    first = deliver(body, headers(body, delivery="delivery-1"), runs, starter)
    second = deliver(body, headers(body, delivery="delivery-2"), runs, starter)
    assert first.body["run_id"] != second.body["run_id"]
    assert not first.body["duplicate"] and not second.body["duplicate"]
    assert len(runs.items) == 2
    assert set(starter.started) == {first.body["run_id"], second.body["run_id"]}
    assert [r["run_id"] for r in runs.list_runs(PROJECT)] == [second.body["run_id"], first.body["run_id"]]


def test_v2_export_shaped_payload(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    payload = {
        "data_row": {"id": "dr-1", "global_key": "chat-0001"},
        "projects": {PROJECT: {"name": "Support chat summaries", "labels": [], "project_details": {}}},
    }
    body = json.dumps(payload).encode()
    reply = deliver(body, headers(body, event="WORKFLOW_ACTION"), runs, starter)
    assert reply.status_code == 202
    assert reply.body["project_id"] == PROJECT
    assert reply.body["run_id"] == run_id_for_delivery(PROJECT, "delivery-1")
    run = runs.get_run(reply.body["run_id"])
    assert run is not None and run["trigger_event"] == "WORKFLOW_ACTION"


def test_header_names_in_any_case(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    lowered = {k.lower(): v for k, v in headers(body, delivery="Delivery-XYZ").items()}
    reply = deliver(body, lowered, runs, starter)
    assert reply.status_code == 202
    assert reply.body["run_id"] == run_id_for_delivery(PROJECT, "Delivery-XYZ")


def test_delivery_id_falls_back_to_a_body_hash(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    first = deliver(body, headers(body, delivery=None), runs, starter)
    again = deliver(body, headers(body, delivery=None), runs, starter)
    other_body = v1_body(label_id="lbl-2")
    other = deliver(other_body, headers(other_body, delivery=None), runs, starter)

    digest = hashlib.sha256(body).hexdigest()
    assert first.status_code == 202
    assert first.body["run_id"] == run_id_for_delivery(PROJECT, digest)
    assert again.body == {**first.body, "duplicate": True}
    assert other.body["run_id"] != first.body["run_id"]
    run = runs.get_run(first.body["run_id"])
    assert run is not None
    assert run["delivery_id"] == digest
    assert run["trigger_event"] == "LABEL_CREATED"


def test_missing_event_header_is_recorded_as_unknown(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    body = v1_body()
    hdrs = headers(body)
    del hdrs["X-Labelbox-Event"]
    reply = deliver(body, hdrs, runs, starter)
    run = runs.get_run(reply.body["run_id"])
    assert run is not None and run["trigger_event"] == "unknown"


def test_manual_run_with_idempotency_key(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    first = request_manual_run(PROJECT, "deploy-42", runs, starter, POLL)
    second = request_manual_run(PROJECT, "deploy-42", runs, starter, POLL)
    other = request_manual_run(PROJECT, "deploy-43", runs, starter, POLL)

    assert first.status_code == 202
    assert (first.body["duplicate"], second.body["duplicate"], other.body["duplicate"]) == (False, True, False)
    assert second.body["run_id"] == first.body["run_id"] != other.body["run_id"]
    assert len(runs.items) == 2
    assert set(starter.started) == {first.body["run_id"], other.body["run_id"]}
    run = runs.get_run(first.body["run_id"])
    assert run is not None
    assert (run["trigger"], run["status"], run["project_id"]) == ("manual", "STARTED", PROJECT)
    assert starter.started[first.body["run_id"]]["poll_interval_seconds"] == POLL


def test_manual_run_without_key_always_starts_a_new_run(runs: InMemoryRunStore, starter: RecordingStarter) -> None:
    replies = [request_manual_run(PROJECT, None, runs, starter, POLL) for _ in range(3)]
    run_ids = [reply.body["run_id"] for reply in replies]
    assert len(set(run_ids)) == 3
    assert all(is_valid_run_id(run_id) for run_id in run_ids)
    assert not any(reply.body["duplicate"] for reply in replies)
    assert set(runs.items) == set(starter.started) == set(run_ids)
