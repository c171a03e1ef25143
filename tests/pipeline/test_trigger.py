"""Webhook semantics and the per-project trigger policy, on in-memory stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

import pytest

from labeltune.clock import Clock, fixed_clock, parse_iso
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.signature import sign
from labeltune.domain.trigger_policy import CLAIM_GRACE
from labeltune.domain.webhook import MAX_BODY_BYTES
from labeltune.pipeline.trigger import TriggerServices, accept_labelbox_webhook, follow_up_run, request_manual_run
from tests.fakes import DictWebhookSecrets, InMemoryProjectStore, InMemoryRunStore, RecordingStarter

SECRET = "5d41402abc4b2a76b9719d911017c592"
OTHER_SECRET = "7a1c0f6e2b9d48c3a5e61f0d9b8c7a6e"
SHARED_SECRET = "0123456789abcdef0123456789abcdef01234567"
PROJECT = "clx-support-summaries-demo"
OTHER = "clx-other-project"
NOW = "2026-11-26T10:00:00+00:00"
CLOCK = fixed_clock(NOW)


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


def services(
    projects: InMemoryProjectStore | None = None,
    runs: InMemoryRunStore | None = None,
    starter: RecordingStarter | None = None,
    secrets: DictWebhookSecrets | None = None,
    clock: Clock = CLOCK,
) -> TriggerServices:
    if projects is None:
        projects = InMemoryProjectStore(clock=clock)
        projects.put_config(PROJECT, ProjectConfig().model_dump(mode="json"))
        projects.put_config(OTHER, ProjectConfig().model_dump(mode="json"))
    return TriggerServices(
        projects,
        runs or InMemoryRunStore(clock=clock),
        starter or RecordingStarter(),
        secrets or DictWebhookSecrets({PROJECT: SECRET, OTHER: OTHER_SECRET}),
        fallback_check_seconds=5,
        clock=clock,
    )


@pytest.fixture
def trigger() -> TriggerServices:
    return services()


def recorder(trigger: TriggerServices) -> RecordingStarter:
    return cast(RecordingStarter, trigger.starter)


def store(trigger: TriggerServices) -> InMemoryProjectStore:
    return cast(InMemoryProjectStore, trigger.projects)


def configure(trigger: TriggerServices, **changes: Any) -> None:
    trigger.projects.put_config(PROJECT, ProjectConfig(**changes).model_dump(mode="json"))


def body(project_id: str = PROJECT, row: str = "dr-1", **extra: Any) -> bytes:
    """A v1 payload: `id` is the label, `dataRow.id` the row it labels."""
    payload = {"id": f"lbl-{row}", "label": "{}", "dataRow": {"id": row}, "project": {"id": project_id}, **extra}
    return json.dumps(payload).encode()


def deliver(
    trigger: TriggerServices,
    payload: bytes | None = None,
    delivery_id: str | None = "d-1",
    topic: str | None = "WORKFLOW_ACTION",
    once: Callable[..., dict[str, Any]] = passthrough,
    secret: str = SECRET,
    signature: str | None = None,
) -> Any:
    """One delivery; without a payload, one for the data row named after the delivery (a distinct label)."""
    payload = body(row=f"dr-{delivery_id}") if payload is None else payload
    headers = {"X-Hub-Signature-256": signature or sign(secret, payload)}
    if delivery_id is not None:
        headers["X-Labelbox-Id"] = delivery_id
    if topic:
        headers["X-Labelbox-Event"] = topic
    return accept_labelbox_webhook(payload, headers, trigger, once)


def runs_of(trigger: TriggerServices) -> list[dict[str, Any]]:
    return trigger.runs.list_runs(PROJECT)


def state(trigger: TriggerServices) -> tuple[Any, ...]:
    """Everything a delivery may write, to show that a refused one wrote nothing."""
    projects = store(trigger)
    return (
        json.dumps(projects.items, sort_keys=True, default=str),
        json.dumps(list(projects.deliveries), default=str),
        tuple(recorder(trigger).calls),
        tuple(r["run_id"] for r in runs_of(trigger)),
    )


# -- client faults never touch state -----------------------------------------------------------------


def _nested(depth: int) -> bytes:
    prefix = json.dumps({"project": {"id": PROJECT}})[:-1]
    return (prefix + ', "x": ' + "[" * depth + "]" * depth + "}").encode()


@pytest.mark.parametrize(
    ("payload", "signature", "status"),
    [
        (body(), sign("wrong-secret", body()), 401),
        (body(), sign(OTHER_SECRET, body()), 401),  # signed with another project's secret
        (b"not json", None, 400),
        (b"\xff\xfe not utf-8", None, 400),
        (b"[1, 2]", None, 400),
        (json.dumps({"id": "x"}).encode(), None, 400),
        (body("delivery#clx#d-1"), None, 400),  # shaped like an internal item key: not a project id
        (body("p" * 129), None, 400),
        (_nested(1200), None, 400),  # json.loads raises RecursionError on this
        (_nested(200), None, 400),  # parses, but nothing real is this deep
        (b"x" * (MAX_BODY_BYTES + 1), None, 413),
        (body("unknown-project"), None, 401),  # no secret: an unsigned caller cannot probe for projects
        # Signed, for a known project, but holding a lone surrogate ("\ud800" is valid JSON syntax): no store
        # can encode it, and DynamoDB's serializer failed mid-delivery with a 500. Refused as not Unicode text.
        (body(event="\ud800"), None, 400),
        (body(event="WORKFLOW_ACTION", action="\udfff"), None, 400),
        (json.dumps({"project": {"id": PROJECT}, "\udc00": 1}).encode(), None, 400),
    ],
)
def test_client_faults_get_4xx_and_write_nothing(
    trigger: TriggerServices, payload: bytes, signature: str | None, status: int
) -> None:
    before = state(trigger)
    reply = deliver(trigger, payload, signature=signature)
    assert reply.status_code == status and isinstance(reply.body["message"], str)
    assert state(trigger) == before


@pytest.mark.parametrize("delivery_id", ["x" * 129, "has space", "ünïcode", ""])
def test_a_malformed_delivery_id_is_refused(trigger: TriggerServices, delivery_id: str) -> None:
    before = state(trigger)
    assert deliver(trigger, delivery_id=delivery_id).status_code == 400
    assert state(trigger) == before


def test_a_delivery_for_project_a_cannot_start_runs_in_project_b(trigger: TriggerServices) -> None:
    """One stack-wide secret let a body signed for A name B. Each project verifies with its own secret."""
    payload = body(OTHER)
    assert deliver(trigger, payload, secret=SECRET).status_code == 401
    assert deliver(trigger, payload, secret=OTHER_SECRET).status_code == 202


def test_the_stack_wide_secret_is_only_an_explicit_opt_in() -> None:
    without = services(secrets=DictWebhookSecrets({}))
    assert deliver(without, secret=SHARED_SECRET).status_code == 401
    opted_in = services(secrets=DictWebhookSecrets({}, shared_secret=SHARED_SECRET))
    reply = deliver(opted_in, secret=SHARED_SECRET)
    assert reply.status_code == 202 and reply.body["counted"] is True
    assert opted_in.projects.list_deliveries(PROJECT)[0]["signed_with"] == "shared"
    assert deliver(opted_in, body("unknown-project"), secret=SHARED_SECRET).status_code == 404


def test_a_project_with_its_own_secret_does_not_accept_the_shared_one() -> None:
    both = services(secrets=DictWebhookSecrets({PROJECT: SECRET}, shared_secret=SHARED_SECRET))
    assert deliver(both, secret=SHARED_SECRET).status_code == 401


def test_unknown_topic_is_acknowledged_recorded_and_ignored(trigger: TriggerServices) -> None:
    reply = deliver(trigger, topic="REVIEW_CREATED")
    assert reply.status_code == 202 and reply.body["counted"] is False and reply.body["verdict"] == "unknown_topic"
    assert trigger.projects.get_project(PROJECT)["pending_labels"] == 0
    (recorded,) = trigger.projects.list_deliveries(PROJECT)
    assert recorded["raw_topic"] == "REVIEW_CREATED" and recorded.get("topic") is None


def test_control_characters_in_a_recorded_topic_or_action_are_dropped(trigger: TriggerServices) -> None:
    reply = deliver(trigger, body(event="WORKFLOW\x00_ACTION", action="Appr\x1bove\n"), topic=None)
    assert reply.body["topic"] == "WORKFLOW_ACTION" and reply.body["action"] == "Approve"
    recorded = trigger.projects.list_deliveries(PROJECT)[0]
    assert (recorded["raw_topic"], recorded["action"]) == ("WORKFLOW_ACTION", "Approve")


def test_topic_can_come_from_the_payload(trigger: TriggerServices) -> None:
    reply = deliver(trigger, body(event="WORKFLOW_ACTION"), topic=None)
    assert reply.status_code == 202 and reply.body["counted"] is True


def test_the_signed_body_wins_over_the_unsigned_topic_header(trigger: TriggerServices) -> None:
    """A LABEL_CREATED body relabelled WORKFLOW_ACTION in the header does not count as an approval."""
    reply = deliver(trigger, body(event="LABEL_CREATED"), topic="WORKFLOW_ACTION")
    assert reply.body["topic"] == "LABEL_CREATED" and reply.body["counted"] is False
    assert trigger.projects.list_deliveries(PROJECT)[0]["topic_from"] == "body"


def test_v2_export_shaped_payload_names_its_project_and_row(trigger: TriggerServices) -> None:
    payload = json.dumps({"data_row": {"id": "dr-9"}, "projects": {PROJECT: {"labels": [{"id": "l9"}]}}}).encode()
    reply = deliver(trigger, payload)
    assert reply.body["project_id"] == PROJECT and reply.body["counted"] is True
    recorded = trigger.projects.list_deliveries(PROJECT)[0]
    assert (recorded["data_row_id"], recorded["label_id"]) == ("dr-9", "l9")


def test_label_created_is_not_an_approval_by_default(trigger: TriggerServices) -> None:
    reply = deliver(trigger, topic="LABEL_CREATED")
    assert reply.status_code == 202 and reply.body["counted"] is False
    assert reply.body["verdict"] == "topic_not_counted" and runs_of(trigger) == []


def test_projects_without_review_can_count_label_events(trigger: TriggerServices) -> None:
    configure(trigger, trigger_topics=("LABEL_CREATED", "WORKFLOW_ACTION"))
    assert deliver(trigger, topic="LABEL_CREATED").body["run_id"] is not None


def test_label_deleted_never_counts(trigger: TriggerServices) -> None:
    assert deliver(trigger, topic="LABEL_DELETED").body["counted"] is False


# -- WORKFLOW_ACTION: the action is kept, and sending a row back is not an approval -------------------


@pytest.mark.parametrize(
    ("extra", "counts"),
    [
        ({"action": "Reject"}, False),
        ({"action": "SEND_TO_REWORK"}, False),
        ({"workflow": {"action": "REJECTED"}}, False),
        ({"next_task_name": "Rework"}, False),
        ({"action": "Approve"}, True),
        ({"next_task_name": "Done"}, True),
        ({"action": "MOVE"}, True),  # unknown: not held against the delivery
        ({}, True),
    ],
)
def test_workflow_actions_that_send_a_row_back_do_not_count(
    trigger: TriggerServices, extra: dict[str, Any], counts: bool
) -> None:
    reply = deliver(trigger, body(**extra))
    assert reply.body["counted"] is counts
    recorded = trigger.projects.list_deliveries(PROJECT)[0]
    assert recorded["verdict"] == ("counted" if counts else "sent_back")
    action = extra.get("action") or extra.get("next_task_name") or (extra.get("workflow") or {}).get("action")
    assert recorded.get("action") == action and reply.body["action"] == action


# -- the threshold counts distinct labels, not deliveries ---------------------------------------------


def test_a_run_starts_when_the_threshold_is_reached(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=3)
    first, second = deliver(trigger, delivery_id="a"), deliver(trigger, delivery_id="b")
    assert first.body["run_id"] is None and second.body["pending_labels"] == 2
    third = deliver(trigger, delivery_id="c")
    assert third.body["run_id"] is not None
    ((run_id, payload),) = recorder(trigger).started.items()
    assert run_id == third.body["run_id"]
    assert payload["config"]["min_new_labels"] == 3 and payload["fallback_check_seconds"] == 5
    run = trigger.runs.get_run(run_id)
    assert run["triggered_by"] == "webhook" and run["delivery_id"] == "c" and run["status"] == "STARTED"
    assert run["labels_consumed"] == 3
    project = trigger.projects.get_project(PROJECT)
    assert project["active_run_id"] == run_id and project["pending_labels"] == 0


def test_twenty_repeats_of_one_delivery_count_once(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=2)
    once = DictOnce()
    replies = [deliver(trigger, delivery_id="same", once=once) for _ in range(20)]
    assert {r.status_code for r in replies} == {202}
    assert once.calls == 20
    assert trigger.projects.get_project(PROJECT)["pending_labels"] == 1
    assert runs_of(trigger) == []


def test_one_captured_delivery_replayed_under_fresh_ids_counts_once(trigger: TriggerServices) -> None:
    """The HMAC covers the body, not X-Labelbox-Id: 20 fresh ids on one signed body are one label."""
    configure(trigger, min_new_labels=2)
    captured = body(row="dr-captured")
    replies = [deliver(trigger, captured, delivery_id=f"fresh-{i}", once=DictOnce()) for i in range(20)]
    assert [r.body["counted"] for r in replies] == [True] + [False] * 19
    assert {r.body["verdict"] for r in replies[1:]} == {"already_counted"}
    assert trigger.projects.get_project(PROJECT)["pending_labels"] == 1 and runs_of(trigger) == []
    assert len(trigger.projects.list_deliveries(PROJECT)) == 20  # every delivery is still on record


def test_a_label_counts_again_after_a_run_has_taken_it(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=1)
    first = deliver(trigger, body(row="dr-x"), delivery_id="1").body["run_id"]
    assert first is not None
    again = deliver(trigger, body(row="dr-x"), delivery_id="2")  # reworked and approved again, during the run
    assert again.body["counted"] is True and again.body["active_run_id"] == first


def test_without_ids_the_body_itself_is_what_counts(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=5)
    bare = json.dumps({"project": {"id": PROJECT}}).encode()
    assert deliver(trigger, bare, delivery_id="1").body["counted"] is True
    assert deliver(trigger, bare, delivery_id="2").body["counted"] is False
    other = json.dumps({"project": {"id": PROJECT}, "note": "another event"}).encode()
    assert deliver(trigger, other, delivery_id="3").body["counted"] is True


def test_concurrent_triggers_start_exactly_one_run(trigger: TriggerServices) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda i: deliver(trigger, delivery_id=f"d-{i}"), range(64)))
    started = [r.body["run_id"] for r in replies if r.body["run_id"]]
    assert len(started) == 1
    assert len(recorder(trigger).started) == 1 and len(runs_of(trigger)) == 1
    # No label is lost: those the run took plus those still pending (for a follow-up) are all 64.
    pending = trigger.projects.get_project(PROJECT)["pending_labels"]
    (run,) = runs_of(trigger)
    assert run["labels_consumed"] >= 1
    assert run["labels_consumed"] + pending == 64


def test_labels_during_a_run_lead_to_exactly_one_follow_up(trigger: TriggerServices) -> None:
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


def test_a_retried_follow_up_after_a_crash_still_starts_it(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=1)
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    deliver(trigger, delivery_id="b")
    trigger.projects.release_run(PROJECT, run_id)  # the first attempt released, then crashed
    follow_up = follow_up_run(run_id, PROJECT, trigger)
    assert follow_up is not None and follow_up in recorder(trigger).started


def test_an_abandoned_claim_can_be_taken_over(trigger: TriggerServices) -> None:
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    store(trigger).items[PROJECT]["active_run_started_at"] = "2020-01-01T00:00:00.000+00:00"
    second = deliver(trigger, delivery_id="b").body["run_id"]
    assert second is not None and second != run_id


# -- a start that died, or failed ---------------------------------------------------------------------


class Later:
    """A clock that can be moved."""

    def __init__(self, start: str) -> None:
        self.now = parse_iso(start)

    def __call__(self) -> Any:
        return self.now


def test_a_claim_left_by_a_killed_invocation_is_recovered_within_minutes_with_its_labels() -> None:
    """Killed between the claim and StartExecution: the project was blocked for about three days."""
    clock = Later(NOW)
    trigger = services(clock=clock)
    configure(trigger, min_new_labels=3)
    for name in ("a", "b"):
        deliver(trigger, delivery_id=name)
    trigger.projects.claim_run(PROJECT, "run-orphan", 0, "2000-01-01")  # ...and the invocation died here
    assert deliver(trigger, delivery_id="c").body["run_id"] is None  # within the grace: a start may be under way
    assert recorder(trigger).started == {}

    clock.now += CLAIM_GRACE + timedelta(seconds=1)
    reply = deliver(trigger, delivery_id="d")
    assert reply.body["run_id"] is not None  # a (b) + the orphan's 2 + c + d: the threshold of 3 is met
    run = trigger.runs.get_run(reply.body["run_id"])
    assert run["labels_consumed"] == 4  # the orphan's labels were given back, none lost
    assert trigger.projects.get_project(PROJECT)["active_run_id"] == reply.body["run_id"]


def test_a_running_execution_is_never_taken_over() -> None:
    clock = Later(NOW)
    trigger = services(clock=clock)
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    clock.now += timedelta(hours=5)
    assert deliver(trigger, delivery_id="b").body["run_id"] is None
    assert trigger.projects.get_project(PROJECT)["active_run_id"] == run_id


def test_a_manual_run_recovers_a_dead_claim_whose_execution_ended() -> None:
    clock = Later(NOW)
    trigger = services(clock=clock)
    run_id = deliver(trigger, delivery_id="a").body["run_id"]
    recorder(trigger).statuses[run_id] = "SUCCEEDED"  # ended, but its slot was never freed
    clock.now += CLAIM_GRACE * 2
    reply = request_manual_run(PROJECT, None, trigger)
    assert reply.status_code == 202
    assert trigger.runs.get_run(run_id)["error"] == "ExecutionSucceeded"


class FlakyStarter(RecordingStarter):
    """Step Functions throttled once: the first start raises."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def start(self, run_id: str, payload: Any) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("ThrottlingException: Rate exceeded")
        return super().start(run_id, payload)


def test_a_failed_start_is_recorded_gives_the_claim_back_and_the_retry_counts_once() -> None:
    flaky = services(starter=FlakyStarter())
    with pytest.raises(RuntimeError):
        deliver(flaky, delivery_id="x")  # the API answers 500: Labelbox will deliver again
    project = flaky.projects.get_project(PROJECT)
    assert "active_run_id" not in project and project["pending_labels"] == 1  # nothing blocked, nothing lost
    (failed,) = runs_of(flaky)
    assert failed["status"] == "FAILED" and failed["error"] == "StartFailed"  # not STARTED forever
    assert "ThrottlingException" in failed["error_message"]

    retry = deliver(flaky, delivery_id="x")
    assert retry.body["run_id"] == failed["run_id"]  # the same run id, started afresh
    run = flaky.runs.get_run(retry.body["run_id"])
    assert run["status"] == "STARTED" and "error" not in run
    assert run["labels_consumed"] == 1  # counted once, not twice


class CancelledWhileStarting(RecordingStarter):
    """The run's cancel is asked while its start is in progress, and then the start fails."""

    def __init__(self, runs: InMemoryRunStore) -> None:
        super().__init__()
        self.runs = runs

    def start(self, run_id: str, payload: Any) -> bool:
        assert self.runs.request_cancel(run_id, "2026-09-15T09:30:14.000+00:00")
        raise RuntimeError("ThrottlingException: Rate exceeded")


def test_a_failed_start_of_a_run_whose_cancel_was_asked_ends_it_cancelled_for_good() -> None:
    """StartFailed lets a redelivery start the run afresh: a cancelled run must not come back that way."""
    runs = InMemoryRunStore(clock=CLOCK)
    trigger = services(runs=runs, starter=CancelledWhileStarting(runs))
    with pytest.raises(RuntimeError):
        deliver(trigger, delivery_id="x")
    (run,) = runs_of(trigger)
    assert (run["status"], run["error"]) == ("CANCELLED", "Cancelled")
    redelivered = services(projects=cast(InMemoryProjectStore, trigger.projects), runs=runs)
    deliver(redelivered, delivery_id="x")  # Labelbox delivers again after the 500
    assert run["run_id"] not in recorder(redelivered).started  # the cancelled run is not started afresh
    assert runs.get_run(run["run_id"])["status"] == "CANCELLED"


def test_an_in_progress_duplicate_is_asked_to_come_back(trigger: TriggerServices) -> None:
    reply = deliver(trigger, once=lambda key, work: {"duplicate": True, "in_progress": True})
    assert reply.status_code == 409


# -- manual runs -------------------------------------------------------------------------------------


def test_manual_run_bypasses_the_threshold_but_not_the_in_flight_rule(trigger: TriggerServices) -> None:
    configure(trigger, min_new_labels=50)
    started = request_manual_run(PROJECT, None, trigger)
    assert started.status_code == 202
    blocked = request_manual_run(PROJECT, None, trigger)
    assert blocked.status_code == 409 and blocked.body["active_run_id"] == started.body["run_id"]
    assert trigger.runs.get_run(started.body["run_id"])["triggered_by"] == "manual"


def test_manual_run_with_an_idempotency_key_is_one_run(trigger: TriggerServices) -> None:
    first = request_manual_run(PROJECT, "key-1", trigger)
    again = request_manual_run(PROJECT, "key-1", trigger)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.body["run_id"] == again.body["run_id"]
    assert len(recorder(trigger).started) == 1


@pytest.mark.parametrize("key", ["k" * 129, "two words"])
def test_a_malformed_idempotency_key_is_refused(trigger: TriggerServices, key: str) -> None:
    assert request_manual_run(PROJECT, key, trigger).status_code == 400
    assert recorder(trigger).calls == []


def test_manual_run_of_an_unknown_project_is_404(trigger: TriggerServices) -> None:
    assert request_manual_run("nope", None, trigger).status_code == 404
    assert recorder(trigger).calls == []


def test_reusing_an_idempotency_key_after_its_run_ended_blocks_nothing(trigger: TriggerServices) -> None:
    first = request_manual_run(PROJECT, "key-1", trigger).body["run_id"]
    trigger.runs.update_run(first, status="SUCCEEDED")
    follow_up_run(first, PROJECT, trigger)  # the run ended and freed the project
    again = request_manual_run(PROJECT, "key-1", trigger)
    assert again.status_code == 200 and again.body == {"run_id": first, "project_id": PROJECT, "status": "SUCCEEDED"}
    assert "active_run_id" not in trigger.projects.get_project(PROJECT)
    assert request_manual_run(PROJECT, "key-2", trigger).status_code == 202
