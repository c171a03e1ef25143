"""Turning webhook deliveries and manual requests into runs, under the project's trigger policy.

The webhook is only a trigger ("something changed in project X"); the export reads the truth. Deliveries
repeat and arrive out of order: each delivery id is processed once (`once`, Powertools idempotency in the
Lambda), approval events are counted per project, and a run starts only through the project store's
conditional claim, so concurrent deliveries start at most one run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from labeltune.clock import Clock
from labeltune.domain.models import RunStatus
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.run_ids import new_manual_run_id, run_id_for_delivery
from labeltune.domain.signature import verify_signature
from labeltune.domain.trigger_policy import counts_toward_run, stale_before
from labeltune.domain.webhook import MAX_BODY_BYTES, LabelboxDelivery, delivery_topic
from labeltune.ports import ProjectStore, RunStore, WorkflowStarter

Once = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]


class Reply(BaseModel):
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Trigger:
    """What starting a run needs: the project and run stores, the workflow, the poll interval and the clock."""

    projects: ProjectStore
    runs: RunStore
    starter: WorkflowStarter
    poll_interval_seconds: int
    clock: Clock


class Start(StrEnum):
    STARTED = "started"  # this call (or the earlier attempt it repeats) started the run
    REFUSED = "refused"  # another run is in flight, or too few events are pending
    ALREADY_FINISHED = "already_finished"  # this run id ran before and has ended: nothing to start


FINISHED = {RunStatus.SUCCEEDED.value, RunStatus.FAILED.value}


def start_claimed_run(
    run_id: str, project_id: str, config: ProjectConfig, trigger: Trigger, min_pending: int, **attributes: Any
) -> Start:
    """Claim the project's single in-flight slot for `run_id`, then create the run and its execution.

    Every step is idempotent for the same run id, so a retry completes a half-done start. If the start
    cannot complete, the claim is given back with its events, so a failure never blocks the project.
    """
    consumed = trigger.projects.claim_run(project_id, run_id, min_pending, stale_before(trigger.clock()))
    if consumed is None:
        return Start.REFUSED
    try:
        snapshot = config.model_dump(mode="json")
        created = trigger.runs.create_run(
            run_id, project_id, status=RunStatus.STARTED.value, config=snapshot, events_consumed=consumed, **attributes
        )
        if not created and (trigger.runs.get_run(run_id) or {}).get("status") in FINISHED:
            trigger.projects.release_run(project_id, run_id, return_events=consumed)
            return Start.ALREADY_FINISHED
        trigger.starter.start(
            run_id,
            {
                "run_id": run_id,
                "project_id": project_id,
                "poll_interval_seconds": trigger.poll_interval_seconds,
                "config": snapshot,
            },
        )
    except Exception:
        trigger.projects.release_run(project_id, run_id, return_events=consumed)
        raise
    return Start.STARTED


def _config(project: Mapping[str, Any]) -> ProjectConfig:
    return ProjectConfig.model_validate(project.get("config") or {})


def accept_labelbox_webhook(
    body: bytes, headers: Mapping[str, str], secret: str, trigger: Trigger, once: Once
) -> Reply:
    if len(body) > MAX_BODY_BYTES:
        return Reply(status_code=413, body={"message": f"body over {MAX_BODY_BYTES} bytes"})
    if not verify_signature(secret, body, headers):
        return Reply(status_code=401, body={"message": "invalid or missing webhook signature"})
    try:
        delivery = LabelboxDelivery.model_validate(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError):
        return Reply(status_code=400, body={"message": "body is not a JSON object"})
    project_id = delivery.project_id()
    if not project_id:
        return Reply(status_code=400, body={"message": "payload names no project"})
    topic = delivery_topic(headers, delivery)
    if topic is None:
        return Reply(status_code=202, body={"project_id": project_id, "ignored": "unknown topic"})
    project = trigger.projects.get_project(project_id)
    if project is None:
        return Reply(status_code=404, body={"message": "unknown project", "project_id": project_id})
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get("x-labelbox-id") or hashlib.sha256(body).hexdigest()

    def process() -> dict[str, Any]:
        config = _config(project)
        if not counts_toward_run(topic, config.trigger_topics):
            return {"project_id": project_id, "topic": topic.value, "counted": False}
        state = trigger.projects.record_events(project_id, delivery_id)
        run_id = run_id_for_delivery(project_id, delivery_id)
        outcome = start_claimed_run(
            run_id, project_id, config, trigger, config.min_new_labels, triggered_by="webhook", delivery_id=delivery_id
        )
        started = outcome is Start.STARTED
        return {
            "project_id": project_id,
            "topic": topic.value,
            "counted": True,
            "pending_events": 0 if started else int(state.get("pending_events", 0)),
            "run_id": run_id if started else None,
            "active_run_id": run_id if started else state.get("active_run_id"),
        }

    result = once(delivery_id, process)
    if result.get("in_progress"):  # the first attempt may still fail: have Labelbox deliver again later
        return Reply(status_code=409, body={"message": "this delivery is being processed", "delivery_id": delivery_id})
    return Reply(status_code=202, body={"delivery_id": delivery_id, **result})


def request_manual_run(project_id: str, idempotency_key: str | None, trigger: Trigger) -> Reply:
    project = trigger.projects.get_project(project_id)
    if project is None:
        return Reply(status_code=404, body={"message": "unknown project", "project_id": project_id})
    run_id = new_manual_run_id(project_id, idempotency_key)
    outcome = start_claimed_run(run_id, project_id, _config(project), trigger, min_pending=0, triggered_by="manual")
    if outcome is Start.STARTED:
        return Reply(status_code=202, body={"run_id": run_id, "project_id": project_id})
    if outcome is Start.ALREADY_FINISHED:  # the same Idempotency-Key again, after its run ended
        status = (trigger.runs.get_run(run_id) or {}).get("status")
        return Reply(status_code=200, body={"run_id": run_id, "project_id": project_id, "status": status})
    active = (trigger.projects.get_project(project_id) or {}).get("active_run_id")
    return Reply(
        status_code=409,
        body={"message": "a run of this project is in flight", "project_id": project_id, "active_run_id": active},
    )


def follow_up_run(run_id: str, project_id: str, trigger: Trigger) -> str | None:
    """After `run_id` ends: free the project's slot, and start one follow-up run if enough events
    arrived meanwhile. Safe to repeat: the follow-up's id is derived from the finished run."""
    trigger.projects.release_run(project_id, run_id)
    project = trigger.projects.get_project(project_id)
    if project is None:
        return None
    config = _config(project)
    follow_up = run_id_for_delivery(project_id, f"follow-up:{run_id}")
    outcome = start_claimed_run(
        follow_up, project_id, config, trigger, config.min_new_labels, triggered_by="follow-up", follows_run_id=run_id
    )
    return follow_up if outcome is Start.STARTED else None
