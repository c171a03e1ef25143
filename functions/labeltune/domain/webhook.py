"""Labelbox webhook deliveries, read permissively: what the signed body says, never only the headers.

Labelbox documents no payload schema: v1 (SDK-created webhooks) carries `id` (the label), `dataRow.id` and
`project.id`; the UI-only v2 "mimics the export payload" (`data_row`, `projects: {<id>: {labels: [...]}}`);
the WORKFLOW_ACTION payload is not documented at all. So every field is looked for under the spellings seen
or plausible, and nothing but the project id is required. The signature covers only the body: where the
body names its topic, it wins over the unsigned `X-Labelbox-Event` header, and what the trigger counts (a
label, else a data row, else the body itself) comes from the body, never from the unsigned delivery id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from labeltune.domain.identifiers import is_label_id, is_project_id

MAX_BODY_BYTES = 1_048_576  # Labelbox sends ids, not data: anything larger is not a Labelbox webhook
MAX_RECORDED_TEXT = 64  # raw topic and action strings are kept on the delivery record, bounded


class Topic(StrEnum):
    LABEL_CREATED = "LABEL_CREATED"
    LABEL_UPDATED = "LABEL_UPDATED"
    LABEL_DELETED = "LABEL_DELETED"
    WORKFLOW_ACTION = "WORKFLOW_ACTION"


_TOPIC_KEYS = ("event", "topic", "eventType", "event_type", "webhookTopic")
_ACTION_KEYS = ("action", "workflowAction", "workflow_action", "actionType", "action_type", "move")
_TARGET_KEYS = ("next_task_name", "nextTaskName", "to", "taskName", "task_name", "destination")
_LABEL_KEYS = ("labelId", "label_id")
_ROW_KEYS = ("dataRowId", "data_row_id")

# Actions that send a row back instead of approving it (matched on lowercase letters only).
_SENDS_BACK = ("reject", "rework", "sendback", "returned", "requestchanges", "tolabel", "inreview", "review")
_APPROVES = ("approve", "accept", "done", "complete", "finish")


def _text(value: Any) -> str | None:
    """A non-empty string, without control characters (it is stored and shown as received otherwise)."""
    if not isinstance(value, str):
        return None
    printable = "".join(character for character in value if character.isprintable()).strip()
    return printable or None


def _id_of(value: Any) -> str | None:
    """An id given as a string, or as an object with an `id`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if is_label_id(value) else None


def _first(payload: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _text(payload.get(key))
        if value is not None:
            return value
    return None


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


@dataclass(frozen=True)
class Delivery:
    """What labeltune reads from one delivery's body (and, where the body is silent, its headers)."""

    project_id: str | None
    topic: Topic | None  # None: a topic labeltune does not know (kept raw in `raw_topic`)
    raw_topic: str | None
    topic_from: Literal["body", "header"] | None
    action: str | None  # WORKFLOW_ACTION's action or move target, raw (bounded)
    label_id: str | None
    data_row_id: str | None

    def sends_back(self) -> bool:
        """True when the action is known to send the row back (reject, rework): not an approval.
        An action that is absent or not recognised is not held against the delivery."""
        if self.action is None:
            return False
        squashed = _squash(self.action)
        if any(word in squashed for word in _APPROVES):
            return False
        return any(word in squashed for word in _SENDS_BACK)

    def count_key(self, body: bytes) -> str:
        """What the run threshold counts once per run: the data row (one approved row is one new example),
        else the label, else the signed body itself (a replay of the same body never counts twice)."""
        if self.data_row_id:
            return f"row:{self.data_row_id}"
        if self.label_id:
            return f"label:{self.label_id}"
        return "body:" + hashlib.sha256(body).hexdigest()

    def record(self) -> dict[str, Any]:
        """The delivery as it is kept and shown (ids and words only: a webhook carries no chat text)."""
        return {
            "topic": self.topic.value if self.topic else None,
            "raw_topic": self.raw_topic,
            "topic_from": self.topic_from,
            "action": self.action,
            "label_id": self.label_id,
            "data_row_id": self.data_row_id,
        }


def _project_id(payload: Mapping[str, Any]) -> str | None:
    project = payload.get("project")
    candidates = [
        project.get("id") if isinstance(project, Mapping) else None,
        payload.get("projectId"),
        payload.get("project_id"),
    ]
    projects = payload.get("projects")
    if isinstance(projects, Mapping) and len(projects) == 1:
        candidates.append(next(iter(projects)))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _v2_label_id(payload: Mapping[str, Any], project_id: str | None) -> str | None:
    projects = payload.get("projects")
    entry = projects.get(project_id) if isinstance(projects, Mapping) and project_id else None
    labels = entry.get("labels") if isinstance(entry, Mapping) else None
    if isinstance(labels, list) and len(labels) == 1:
        return _id_of(labels[0])
    return None


def _action(payload: Mapping[str, Any]) -> str | None:
    action = _first(payload, _ACTION_KEYS)
    for nested in ("workflow", "workflowAction", "action"):  # {"workflow": {"action": ...}} and the like
        inner = payload.get(nested)
        if action is None and isinstance(inner, Mapping):
            action = _first(inner, _ACTION_KEYS) or _first(inner, _TARGET_KEYS)
    return action or _first(payload, _TARGET_KEYS)


def parse_delivery(payload: Mapping[str, Any], headers: Mapping[str, str]) -> Delivery:
    """Read one delivery. Never raises: anything missing or malformed reads as None."""
    project_id = _project_id(payload)
    if project_id is not None and not is_project_id(project_id):
        project_id = None
    lowered = {k.lower(): v for k, v in headers.items()}
    topic_from: Literal["body", "header"] = "body"
    raw_topic = _first(payload, _TOPIC_KEYS)
    if raw_topic is None:
        raw_topic, topic_from = _text(lowered.get("x-labelbox-event")), "header"
    try:
        topic = Topic(raw_topic.upper()) if raw_topic else None
    except ValueError:
        topic = None
    label = payload.get("label")
    data_row = payload.get("dataRow") or payload.get("data_row")
    label_id = (
        _id_of(label)
        or next((v for v in (payload.get(k) for k in _LABEL_KEYS) if is_label_id(v)), None)
        or _v2_label_id(payload, project_id)
        or (_id_of(payload.get("id")) if topic is not Topic.WORKFLOW_ACTION else None)
    )
    data_row_id = _id_of(data_row) or next((v for v in (payload.get(k) for k in _ROW_KEYS) if is_label_id(v)), None)
    action = _action(payload) if topic is Topic.WORKFLOW_ACTION or topic is None else None
    return Delivery(
        project_id=project_id,
        topic=topic,
        raw_topic=raw_topic[:MAX_RECORDED_TEXT] if raw_topic else None,
        topic_from=topic_from if raw_topic else None,
        action=action[:MAX_RECORDED_TEXT] if action else None,
        label_id=label_id,
        data_row_id=data_row_id,
    )
