"""Webhook semantics and the per-project trigger policy, on in-memory stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from labeltune.clock import fixed_clock
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.signature import sign
from labeltune.domain.webhook import MAX_BODY_BYTES
from labeltune.pipeline.trigger import Trigger, accept_labelbox_webhook, follow_up_run, request_manual_run
from tests.fakes import InMemoryProjectStore, InMemoryRunStore, RecordingStarter

SECRET = "5d41402abc4b2a76b9719d911017c592"
PROJECT = "clx-support-summaries-demo"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")


class DictOnce:
    """Stands in for Powertools idempotency: the first reply per key is kept and replayed."""

    def __init__(self) -> None:
        self.replies: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            if key not in self.replies:
                self.replies[key] = work()
            return self.replies[key]


def passthrough(key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return work()


@pytest.fixture
def trigger() -> Trigger:
    projects = InMemoryProjectStore()
    projects.put_config(PROJECT, ProjectConfig().model_dump(mode="json"))
    return Trigger(projects, InMemoryRunStore(), RecordingStarter(), poll_interval_seconds=5, clock=CLOCK)


def recorder(trigger: Trigger) -> RecordingStarter:
    return cast(RecordingStarter, trigger.starter)


def configure(trigger: Trigger, **changes: Any) -> None:
    trigger.projects.put_config(PROJECT, ProjectConfig(**changes).model_dump(mode="json"))


def body(project_id: str = PROJECT, **extra: Any) -> bytes:
    return json.dumps({"id": "lbl-1", "label": "{}", "project": {"id": project_id}, **extra}).encode()


def deliver(
    trigger: Trigger,
    payload: bytes | None = None,
    delivery_id: str = "d-1",
    topic: str | None = "WORKFLOW_ACTION",
    once: Callable[..., dict[str, Any]] = passthrough,
    signature: str | None = None,
) -> Any:
    payload = body() if payload is None else payload
    headers = {"X-Hub-Signature-256": signature or sign(SECRET, payload), "X-Labelbox-Id": delivery_id}
    if topic:
        headers["X-Labelbox-Event"] = topic
    return accept_labelbox_webhook(payload, headers, SECRET, trigger, once)


def runs_of(trigger: Trigger) -> list[dict[str, Any]]:
    return trigger.runs.list_runs(PROJECT)


# -- client faults never touch state -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "signature", "status"),
    [
        (body(), sign("wrong-secret", body()), 401),
        (b"not json", None, 400),
        (b"[1, 2]", None, 400),
        (json.dumps({"id": "x"}).encode(), None, 400),
        (b"x" * (MAX_BODY_BYTES + 1), None, 413),
        (body("unknown-project"), None, 404),
    ],
)
def test_client_faults_get_4xx_and_change_nothing(
    trigger: Trigger, payload: bytes, signature: str | None, status: int
) -> None:
    before = trigger.projects.get_project(PROJECT)
    reply = deliver(trigger, payload, signature=signature)
    assert reply.status_code == status
    assert trigger.projects.get_project(PROJECT) == before
    assert recorder(trigger).calls == [] and runs_of(trigger) == []


def test_unknown_topic_is_acknowledged_and_ignored(trigger: Trigger) -> None:
    reply = deliver(trigger, topic="REVIEW_CREATED")
    assert reply.status_code == 202 and reply.body["ignored"] == "unknown topic"
    assert trigger.projects.get_project(PROJECT)["pending_events"] == 0


def test_topic_can_come_from_the_payload(trigger: Trigger) -> None:
    reply = deliver(trigger, body(event="WORKFLOW_ACTION"), topic=None)
    assert reply.status_code == 202 and reply.body["counted"] is True


def test_v2_export_shaped_payload_names_its_project(trigger: Trigger) -> None:
    payload = json.dumps({"data_row": {"id": "dr-1"}, "projects": {PROJECT: {"labels": []}}}).encode()
    assert deliver(trigger, payload).body["project_id"] == PROJECT


def test_label_created_is_not_an_approval_by_default(trigger: Trigger) -> None:
    reply = deliver(trigger, topic="LABEL_CREATED")
    assert reply.status_code == 202 and reply.body["counted"] is False
    assert runs_of(trigger) == []


def test_projects_without_review_can_count_label_events(trigger: Trigger) -> None:
    configure(trigger, trigger_topics=("LABEL_CREATED", "WORKFLOW_ACTION"))
    assert deliver(trigger, topic="LABEL_CREATED").body["run_id"] is not None


def test_label_deleted_never_counts(trigger: Trigger) -> None:
    assert deliver(trigger, topic="LABEL_DELETED").body["counted"] is False


# -- the threshold and the single in-flight run ------------------------------------------------------


def test_a_run_starts_when_the_threshold_is_reached(trigger: Trigger) -> None:
    configure(trigger, min_new_labels=3)
    first, second = deliver(trigger, delivery_id="a"), deliver(trigger, delivery_id="b")
    assert first.body["run_id"] is None and second.body["pending_events"] == 2
    third = deliver(trigger, delivery_id="c")
    assert third.body["run_id"] is not None
    ((run_id, payload),) = recorder(trigger).started.items()
    assert run_id == third.body["run_id"]
    assert payload["config"]["min_new_labels"] == 3 and payload["poll_interval_seconds"] == 5
    run = trigger.runs.get_run(run_id)
    assert run["triggered_by"] == "webhook" and run["delivery_id"] == "c" and run["status"] == "STARTED"
    assert run["events_consumed"] == 3
    project = trigger.projects.get_project(PROJECT)
    assert project["active_run_id"] == run_id and project["pending_events"] == 0


def test_twenty_repeats_of_one_delivery_count_once(trigger: Trigger) -> None:
    configure(trigger, min_new_labels=2)
    once = DictOnce()
    replies = [deliver(trigger, delivery_id="same", once=once) for _ in range(20)]
    assert {r.status_code for r in replies} == {202}
    assert once.calls == 20
    assert trigger.projects.get_project(PROJECT)["pending_events"] == 1
    assert runs_of(trigger) == []


def test_concurrent_triggers_start_exactly_one_run(trigger: Trigger) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda i: deliver(trigger, delivery_id=f"d-{i}"), range(64)))
    started = [r.body["run_id"] for r in replies if r.body["run_id"]]
    assert len(started) == 1
    assert len(recorder(trigger).started) == 1 and len(runs_of(trigger)) == 1
    # No event is lost: those the run took plus those still pending (for a follow-up) are all 64.
    pending = trigger.projects.get_project(PROJECT)["pending_events"]
    (run,) = runs_of(trigger)
    assert run["events_consumed"] >= 1
    assert run["events_consumed"] + pending == 64


def test_labels_during_a_run_lead_to_exactly_one_follow_up(trigger: Trigger) -> None:
    configure(trigger, min_new_labels=2)
    deliver(trigger, delivery_id="a")
    first_run = deliver(trigger, delivery_id="b").body["run_id"]
    during = [deliver(trigger, delivery_id=f"during-{i}") for i in range(5)]
    assert all(r.body["run_id"] is None and r.body["active_run_id"] == first_run for r in during)

    follow_up = follow_up_run(first_run, PROJECT, trigger)
    assert follow_up is not None and follow_up != first_run
    assert follow_up_run(first_run, PROJECT, trigger) == follow_up  # a retried RecordOutcome: the same run
    assert set(recorder(trigger).started) == {first_run, follow_up}
    assert trigger.runs.get_run(follow_up)["follows_run_id"] == first_run
    assert trigger.projects.get_project(PROJECT)["active_run_id"] == follow_up

    assert follow_up_run(follow_up, PROJECT, trigger) is None  # nothing new arrived: no third run
    assert "active_run_id" not in trigger.projects.get_project(PROJECT)


def test_a_retried_follow_up_after_a_crash_still_starts_it(trigger: Trigger) -> None:
    configure(trigger, min_new_labels=1)
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    deliver(trigger, delivery_id="b")
    trigger.projects.release_run(PROJECT, run_id)  # the first attempt released, then crashed
    follow_up = follow_up_run(run_id, PROJECT, trigger)
    assert follow_up is not None and follow_up in recorder(trigger).started


def test_an_abandoned_claim_can_be_taken_over(trigger: Trigger) -> None:
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    projects = cast(InMemoryProjectStore, trigger.projects)
    projects.items[PROJECT]["active_run_started_at"] = "2020-01-01T00:00:00.000+00:00"
    second = deliver(trigger, delivery_id="b").body["run_id"]
    assert second is not None and second != run_id


# -- manual runs -------------------------------------------------------------------------------------


def test_manual_run_bypasses_the_threshold_but_not_the_in_flight_rule(trigger: Trigger) -> None:
    configure(trigger, min_new_labels=50)
    started = request_manual_run(PROJECT, None, trigger)
    assert started.status_code == 202
    blocked = request_manual_run(PROJECT, None, trigger)
    assert blocked.status_code == 409 and blocked.body["active_run_id"] == started.body["run_id"]
    assert trigger.runs.get_run(started.body["run_id"])["triggered_by"] == "manual"


def test_manual_run_with_an_idempotency_key_is_one_run(trigger: Trigger) -> None:
    first = request_manual_run(PROJECT, "key-1", trigger)
    again = request_manual_run(PROJECT, "key-1", trigger)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.body["run_id"] == again.body["run_id"]
    assert len(recorder(trigger).started) == 1


def test_manual_run_of_an_unknown_project_is_404(trigger: Trigger) -> None:
    assert request_manual_run("nope", None, trigger).status_code == 404
    assert recorder(trigger).calls == []


class FlakyStarter(RecordingStarter):
    """Step Functions throttled once: the first start raises."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def start(self, run_id: str, payload: Any) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("ThrottlingException")
        return super().start(run_id, payload)


def test_a_failed_start_gives_the_claim_back_and_the_retry_counts_once(trigger: Trigger) -> None:
    flaky = Trigger(trigger.projects, trigger.runs, FlakyStarter(), poll_interval_seconds=5, clock=CLOCK)
    with pytest.raises(RuntimeError):
        deliver(flaky, delivery_id="x")  # the API answers 500: Labelbox will deliver again
    project = flaky.projects.get_project(PROJECT)
    assert "active_run_id" not in project and project["pending_events"] == 1  # nothing blocked, nothing lost
    retry = deliver(flaky, delivery_id="x")
    assert retry.body["run_id"] is not None
    assert flaky.runs.get_run(retry.body["run_id"])["events_consumed"] == 1  # counted once, not twice


def test_an_in_progress_duplicate_is_asked_to_come_back(trigger: Trigger) -> None:
    reply = deliver(trigger, once=lambda key, work: {"duplicate": True, "in_progress": True})
    assert reply.status_code == 409


def test_reusing_an_idempotency_key_after_its_run_ended_blocks_nothing(trigger: Trigger) -> None:
    first = request_manual_run(PROJECT, "key-1", trigger).body["run_id"]
    trigger.runs.update_run(first, status="SUCCEEDED")
    follow_up_run(first, PROJECT, trigger)  # the run ended and freed the project
    again = request_manual_run(PROJECT, "key-1", trigger)
    assert again.status_code == 200 and again.body == {"run_id": first, "project_id": PROJECT, "status": "SUCCEEDED"}
    assert "active_run_id" not in trigger.projects.get_project(PROJECT)
    assert request_manual_run(PROJECT, "key-2", trigger).status_code == 202
