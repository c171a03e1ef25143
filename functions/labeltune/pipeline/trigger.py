"""Turning a webhook delivery or a manual request into exactly one run.

The webhook is only a trigger: it says "something changed in project X"; the prepare step reads the truth
with an export. A delivery maps to a deterministic run id, which is also the execution name, so a
repeated delivery finds the run already there and starts nothing new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from labeltune.domain.models import RunStatus
from labeltune.domain.run_ids import new_manual_run_id, run_id_for_delivery
from labeltune.domain.signature import verify_signature
from labeltune.ports import RunStore, WorkflowStarter


class Reply(BaseModel):
    status_code: int
    body: dict[str, Any]


def _project_id(payload: Any) -> str | None:
    """v1 payloads carry `project.id`; export-shaped (v2) payloads carry the project under `projects`."""
    if not isinstance(payload, Mapping):
        return None
    project = payload.get("project")
    if isinstance(project, Mapping) and project.get("id"):
        return str(project["id"])
    projects = payload.get("projects")
    if isinstance(projects, Mapping) and len(projects) == 1:
        return str(next(iter(projects)))
    return None


def start_run(
    run_id: str,
    project_id: str,
    runs: RunStore,
    starter: WorkflowStarter,
    poll_interval_seconds: int,
    **attributes: Any,
) -> Reply:
    """Create the run record and its execution; both steps are idempotent, so a retry repairs a half start."""
    created = runs.create_run(run_id, project_id, status=RunStatus.STARTED.value, **attributes)
    starter.start(
        run_id,
        {"run_id": run_id, "project_id": project_id, "poll_interval_seconds": poll_interval_seconds},
    )
    return Reply(
        status_code=202,
        body={"run_id": run_id, "project_id": project_id, "duplicate": not created},
    )


def accept_labelbox_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    runs: RunStore,
    starter: WorkflowStarter,
    poll_interval_seconds: int,
) -> Reply:
    if not verify_signature(secret, body, headers):
        return Reply(status_code=401, body={"message": "invalid or missing webhook signature"})
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Reply(status_code=400, body={"message": "body is not JSON"})
    project_id = _project_id(payload)
    if not project_id:
        return Reply(status_code=400, body={"message": "payload names no project"})
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get("x-labelbox-id") or hashlib.sha256(body).hexdigest()
    return start_run(
        run_id_for_delivery(project_id, delivery_id),
        project_id,
        runs,
        starter,
        poll_interval_seconds,
        trigger="webhook",
        trigger_event=lowered.get("x-labelbox-event") or "unknown",
        delivery_id=delivery_id,
    )


def request_manual_run(
    project_id: str,
    idempotency_key: str | None,
    runs: RunStore,
    starter: WorkflowStarter,
    poll_interval_seconds: int,
) -> Reply:
    run_id = new_manual_run_id(project_id, idempotency_key)
    return start_run(run_id, project_id, runs, starter, poll_interval_seconds, trigger="manual")
