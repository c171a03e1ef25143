"""Turning webhook deliveries and manual requests into runs, under the project's trigger policy.

The webhook is only a trigger ("something changed in project X"); the export reads the truth. Deliveries
repeat, arrive out of order and can be replayed: each is verified with its project's own secret, each
delivery id is processed once (`once`, Powertools idempotency in the Lambda), and what counts toward a run
is the row or label the signed body names, once per run. A run starts only through the project store's
conditional claim, so concurrent deliveries start at most one run, and a claim whose start died is
recovered within minutes with its labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from labeltune.clock import Clock, iso, parse_iso
from labeltune.domain.identifiers import is_delivery_id
from labeltune.domain.json_input import MalformedJson, parse_json_object
from labeltune.domain.models import CANCELLED_ERROR, START_FAILED, RunStatus
from labeltune.domain.models import FINISHED_RUN_STATUSES as FINISHED
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.run_ids import new_manual_run_id, run_id_for_delivery
from labeltune.domain.signature import verify_signature
from labeltune.domain.trigger_policy import CLAIM_GRACE, Verdict, stale_before, verdict
from labeltune.domain.webhook import MAX_BODY_BYTES, parse_delivery
from labeltune.errors import RunClosed
from labeltune.ports import ProjectStore, RunStore, WebhookSecrets, WorkflowStarter

Once = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]
MAX_MESSAGE = 1000
INVALID_STORED_CONFIG = "the project's stored configuration is not valid: PUT a corrected one"


class Reply(BaseModel):
    status_code: int
    body: dict[str, Any]


def _error(status_code: int, message: str, **context: Any) -> Reply:
    return Reply(status_code=status_code, body={"message": message, **context})


@dataclass(frozen=True)
class TriggerServices:
    """What turning events into runs needs: the stores, the workflow, the webhook secrets, the poll
    interval runs are started with, and the clock."""

    projects: ProjectStore
    runs: RunStore
    starter: WorkflowStarter
    secrets: WebhookSecrets
    fallback_check_seconds: int
    clock: Clock


class Start(StrEnum):
    STARTED = "started"  # this call (or the earlier attempt it repeats) started the run
    REFUSED = "refused"  # another run is in flight, or too few labels are pending
    ALREADY_FINISHED = "already_finished"  # this run id ran before and has ended: nothing to start


def _config(project: Mapping[str, Any]) -> ProjectConfig:
    return ProjectConfig.model_validate(project.get("config") or {})


def recover_dead_claim(project_id: str, services: TriggerServices) -> bool:
    """Free the project's slot when the run holding it has no live execution: its start died between the
    claim and StartExecution (the labels go back to pending), or it ended without releasing the slot.
    Only claims older than CLAIM_GRACE are looked at, so a start in progress is never taken over."""
    project = services.projects.get_project(project_id) or {}
    active, claimed_at = project.get("active_run_id"), project.get("active_run_started_at")
    if not active or not claimed_at or services.clock() - parse_iso(str(claimed_at)) < CLAIM_GRACE:
        return False
    status = services.starter.status(active)
    if status == "RUNNING":
        return False
    never_started = status is None
    returned = int(project.get("active_run_labels", 0)) if never_started else 0
    if services.projects.release_run(project_id, active, return_labels=returned) is None:
        return False  # released meanwhile by someone else
    run = services.runs.get_run(active)
    if run is not None and run.get("status") not in FINISHED:
        reason = "its start was interrupted" if never_started else f"its execution ended ({status})"
        services.runs.update_run(
            active,
            status=RunStatus.FAILED.value,
            error=START_FAILED if never_started else f"Execution{str(status).title().replace('_', '')}",
            error_message=f"the run held its project without a live execution: {reason}; the slot was recovered",
            finished_at=iso(services.clock()),
        )
    return True


def start_claimed_run(
    run_id: str, project_id: str, config: ProjectConfig, services: TriggerServices, min_pending: int, **attributes: Any
) -> Start:
    """Claim the project's single in-flight slot for `run_id`, then create the run and its execution.

    Every step is idempotent for the same run id, so a retry completes a half-done start. If the start
    cannot complete, the claim is given back with its labels and the run is recorded as failed to start
    (with the reason), so a failure never blocks the project or leaves a run STARTED forever.
    """
    claim = lambda: services.projects.claim_run(  # noqa: E731
        project_id, run_id, min_pending, stale_before(services.clock())
    )
    consumed = claim()
    if consumed is None and recover_dead_claim(project_id, services):
        consumed = claim()
    if consumed is None:
        return Start.REFUSED
    snapshot = config.model_dump(mode="json")
    try:
        created = services.runs.create_run(
            run_id,
            project_id,
            status=RunStatus.STARTED.value,
            config=snapshot,
            provider=config.provider,  # also for the steps that get only the run id (its end, completion events)
            labels_consumed=consumed,
            **attributes,
        )
        if not created and (services.runs.get_run(run_id) or {}).get("status") in FINISHED:
            services.projects.release_run(project_id, run_id, return_labels=consumed)
            return Start.ALREADY_FINISHED
        services.starter.start(
            run_id,
            {
                "run_id": run_id,
                "project_id": project_id,
                "fallback_check_seconds": services.fallback_check_seconds,
                "config": snapshot,
            },
        )
    except Exception as error:
        services.projects.release_run(project_id, run_id, return_labels=consumed)
        run = services.runs.get_run(run_id)
        if run is not None:
            # StartFailed lets a redelivery start the run afresh; a run whose cancel was asked ends cancelled.
            cancelled = bool(run.get("cancel_requested_at"))
            message = f"the execution could not be started: {type(error).__name__}: {error}"[:MAX_MESSAGE]
            with suppress(RunClosed):  # it was closed meanwhile (a cancel): it stays so
                services.runs.update_run(
                    run_id,
                    status=(RunStatus.CANCELLED if cancelled else RunStatus.FAILED).value,
                    error=CANCELLED_ERROR if cancelled else START_FAILED,
                    error_message=message,
                    finished_at=iso(services.clock()),
                )
        raise
    return Start.STARTED


def accept_labelbox_webhook(body: bytes, headers: Mapping[str, str], services: TriggerServices, once: Once) -> Reply:
    """Verify, record and count one delivery; start a run when the project's threshold is reached.

    Client faults get a 4xx and write nothing: body too large 413, not JSON / no project / a malformed
    delivery id 400, a signature that does not verify with the project's secret 401 (also for a project
    labeltune does not know, so an unsigned caller learns nothing), an unknown project under a valid
    stack-wide signature 404."""
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        payload = parse_json_object(body)
    except MalformedJson as error:
        return _error(400, str(error))
    delivery = parse_delivery(payload, headers)
    if delivery.project_id is None:
        return _error(400, "the body names no project (project.id, projectId or projects)")
    lowered = {k.lower(): v for k, v in headers.items()}
    header_id = lowered.get("x-labelbox-id")
    if header_id is not None and not is_delivery_id(header_id):
        return _error(400, "X-Labelbox-Id must be 1-128 printable ASCII characters without spaces")
    project_id = delivery.project_id
    project = services.projects.get_project(project_id)
    signed_with: Literal["project", "shared"] = "project"
    secret = services.secrets.for_project(project_id) if project is not None else None
    if secret is None:
        secret, signed_with = services.secrets.shared(), "shared"
    if secret is None or not verify_signature(secret, body, headers):
        return _error(401, "invalid or missing webhook signature")
    if project is None:
        return _error(404, "unknown project", project_id=project_id)
    delivery_id = header_id or "body-" + hashlib.sha256(body).hexdigest()
    try:
        config = _config(project)
    except ValidationError:
        return _error(409, INVALID_STORED_CONFIG, project_id=project_id)
    decision = verdict(delivery, config.trigger_topics)

    def process() -> dict[str, Any]:
        record = {**delivery.record(), "verdict": decision.value, "signed_with": signed_with}
        count_key = delivery.count_key(body) if decision is Verdict.COUNTED else None
        outcome = services.projects.record_delivery(project_id, delivery_id, record, count_key)
        run_id, started = None, False
        if decision is Verdict.COUNTED:  # also when this label counted before: a failed start may complete now
            run_id = run_id_for_delivery(project_id, delivery_id)
            started = (
                start_claimed_run(
                    run_id,
                    project_id,
                    config,
                    services,
                    config.min_new_labels,
                    triggered_by="webhook",
                    delivery_id=delivery_id,
                )
                is Start.STARTED
            )
        return {
            "project_id": project_id,
            "topic": delivery.topic.value if delivery.topic else delivery.raw_topic,
            "action": delivery.action,
            "counted": outcome.counted,
            "verdict": outcome.verdict if decision is Verdict.COUNTED else decision.value,
            "pending_labels": 0 if started else outcome.pending_labels,
            "run_id": run_id if started else None,
            "active_run_id": run_id if started else outcome.active_run_id,
        }

    result = once(delivery_id, process)
    if result.get("in_progress"):  # the first attempt may still fail: have Labelbox deliver again later
        return _error(409, "this delivery is being processed", delivery_id=delivery_id)
    return Reply(status_code=202, body={"delivery_id": delivery_id, **result})


def request_manual_run(project_id: str, idempotency_key: str | None, services: TriggerServices) -> Reply:
    if idempotency_key is not None and not is_delivery_id(idempotency_key):
        return _error(400, "Idempotency-Key must be 1-128 printable ASCII characters without spaces")
    project = services.projects.get_project(project_id)
    if project is None:
        return _error(404, "unknown project", project_id=project_id)
    try:
        config = _config(project)
    except ValidationError:
        return _error(409, INVALID_STORED_CONFIG, project_id=project_id)
    run_id = new_manual_run_id(project_id, idempotency_key)
    outcome = start_claimed_run(run_id, project_id, config, services, min_pending=0, triggered_by="manual")
    if outcome is Start.STARTED:
        return Reply(status_code=202, body={"run_id": run_id, "project_id": project_id})
    if outcome is Start.ALREADY_FINISHED:  # the same Idempotency-Key again, after its run ended
        status = (services.runs.get_run(run_id) or {}).get("status")
        return Reply(status_code=200, body={"run_id": run_id, "project_id": project_id, "status": status})
    active = (services.projects.get_project(project_id) or {}).get("active_run_id")
    return _error(409, "a run of this project is in flight", project_id=project_id, active_run_id=active)


def follow_up_run(run_id: str, project_id: str, services: TriggerServices) -> str | None:
    """After `run_id` ends: free the project's slot, and start one follow-up run if enough labels
    arrived meanwhile. Safe to repeat: the follow-up's id is derived from the finished run."""
    services.projects.release_run(project_id, run_id)
    project = services.projects.get_project(project_id)
    if project is None:
        return None
    config = _config(project)
    follow_up = run_id_for_delivery(project_id, f"follow-up:{run_id}")
    outcome = start_claimed_run(
        follow_up, project_id, config, services, config.min_new_labels, triggered_by="follow-up", follows_run_id=run_id
    )
    return follow_up if outcome is Start.STARTED else None
