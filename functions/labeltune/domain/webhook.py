"""Labelbox webhook deliveries, parsed permissively.

Labelbox documents no payload schema: v1 (SDK-created webhooks) carries `project.id`, the UI-only v2
"mimics the export payload" (`projects: {<id>: ...}`), and the WORKFLOW_ACTION payload is unknown. So the
model accepts any JSON object and only insists on what labeltune uses: the project id and the topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_BODY_BYTES = 1_048_576  # Labelbox sends ids, not data: anything larger is not a Labelbox webhook


class Topic(StrEnum):
    LABEL_CREATED = "LABEL_CREATED"
    LABEL_UPDATED = "LABEL_UPDATED"
    LABEL_DELETED = "LABEL_DELETED"
    WORKFLOW_ACTION = "WORKFLOW_ACTION"


class _ProjectRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None


class LabelboxDelivery(BaseModel):
    """What labeltune reads from a delivery; everything else is kept but ignored."""

    model_config = ConfigDict(extra="allow")
    project: _ProjectRef | None = None
    projectId: str | None = None  # Labelbox's own spelling in some payloads
    projects: dict[str, Any] | None = None
    event: str | None = None
    topic: str | None = None

    def project_id(self) -> str | None:
        if self.project is not None and self.project.id:
            return self.project.id
        if self.projectId:
            return self.projectId
        if self.projects and len(self.projects) == 1:
            return next(iter(self.projects))
        return None


def delivery_topic(headers: Mapping[str, str], delivery: LabelboxDelivery) -> Topic | None:
    """The topic from `X-Labelbox-Event`, else from the payload; None when it is not one we know."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for candidate in (lowered.get("x-labelbox-event"), delivery.event, delivery.topic):
        if candidate:
            try:
                return Topic(candidate.strip().upper())
            except ValueError:
                return None
    return None
