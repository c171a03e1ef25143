"""Test doubles of the installed Labelbox SDK, built with `create_autospec(..., spec_set=True)`.

Why autospec: the adapters talk to a large SDK whose method names and keyword arguments are the whole
contract. An autospecced double fails a test on a misspelled method, a wrong argument name or a missing
argument, the way the real SDK would fail in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from unittest.mock import DEFAULT, create_autospec

import labelbox
from labelbox.orm.db_object import RelationshipManager
from labelbox.schema.export_task import BufferedJsonConverterOutput, BufferedStream, ExportTask, StreamType
from labelbox.schema.ontology import Ontology
from labelbox.schema.project import Project
from labelbox.schema.webhook import Webhook


def client() -> Any:
    return create_autospec(labelbox.Client, instance=True, spec_set=True)


def relationship(value: Any) -> Any:
    """What a DbObject holds for a relationship at runtime: a callable manager returning `value`."""
    manager = create_autospec(RelationshipManager, instance=True, spec_set=True)
    manager.return_value = value
    return manager


def ontology(classifications: list[dict[str, Any]] | None) -> Any:
    double = create_autospec(Ontology, instance=True, spec_set=True)
    double.normalized = {"tools": [], "classifications": classifications or []}
    return double


def project(
    uid: str = "clproject0001",
    name: str = "Support summaries",
    classifications: list[dict[str, Any]] | None = None,
    webhooks: Iterable[Any] = (),
) -> Any:
    double = create_autospec(Project, instance=True, spec_set=True)
    double.uid = uid
    double.name = name
    double.ontology = relationship(ontology(classifications))
    double.webhooks = relationship(list(webhooks))
    return double


def _stream(items: list[Mapping[str, Any]]) -> Any:
    stream = create_autospec(BufferedStream, instance=True, spec_set=True)
    stream.__iter__.side_effect = lambda: iter([BufferedJsonConverterOutput(json=dict(item)) for item in items])
    return stream


def export_task(
    uid: str = "cltask0001",
    status: Any = "COMPLETE",
    rows: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[Mapping[str, Any]] = (),
) -> Any:
    """An ExportTask whose result stream yields `rows` (and its errors stream `errors`) as the SDK's
    BufferedJsonConverterOutput objects."""
    rows, errors = list(rows), list(errors)
    task = create_autospec(ExportTask, instance=True, spec_set=True)
    task.uid = uid
    task.status = status
    task.has_result.return_value = bool(rows)
    task.has_errors.return_value = bool(errors)
    errors_stream = _stream(errors)
    task.get_buffered_stream.return_value = _stream(rows)  # the RESULT stream (DEFAULT below)
    task.get_buffered_stream.side_effect = lambda stream_type=StreamType.RESULT: (
        errors_stream if stream_type == StreamType.ERRORS else DEFAULT
    )
    return task


def webhook(uid: str, url: str, status: str = "ACTIVE") -> Any:
    double = create_autospec(Webhook, instance=True, spec_set=True)
    double.uid = uid
    double.url = url
    double.status = status
    double.topics = ["WORKFLOW_ACTION"]
    return double


# Ontologies as Labelbox's `normalized` JSON holds them (camelCase keys, lower-case types).

TEXT_ONTOLOGY = [
    {
        "type": "text",
        "name": "summary",
        "instructions": "summary",
        "featureSchemaId": "fs-summary",
        "schemaNodeId": "sn-summary",
        "required": True,
        "options": [],
        "scope": "global",
    },
    {
        "type": "radio",
        "name": "quality",
        "instructions": "quality",
        "featureSchemaId": "fs-quality",
        "schemaNodeId": "sn-quality",
        "required": False,
        "scope": "global",
        "options": [{"label": "good", "value": "good", "featureSchemaId": "fs-good"}],
    },
]

LEGACY_ONTOLOGY = [
    {
        "type": "prompt",
        "name": "prompt-text",
        "instructions": "prompt-text",
        "featureSchemaId": "fs-prompt",
        "schemaNodeId": "sn-prompt",
        "required": True,
        "options": [],
        "minCharacters": 1,
    },
    {
        "type": "response-text",
        "name": "response-text",
        "instructions": "response-text",
        "featureSchemaId": "fs-response",
        "schemaNodeId": "sn-response",
        "required": True,
        "options": [],
    },
]


def export_row(
    data_row_id: str,
    project_id: str = "clproject0001",
    *,
    status: str = "DONE",
    row_data: Any = "Agent: hello\nCustomer: my order is late",
    texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One export line in Labelbox's format (REFERENCE.md §3), with free-text answers `texts` (name -> text)."""
    texts = {"summary": "The customer asks about a late order."} if texts is None else texts
    classifications = [
        {
            "feature_id": f"f-{name}",
            "feature_schema_id": f"fs-{name}",
            "name": name,
            "value": name,
            "text_answer": {"content": content},
        }
        for name, content in texts.items()
    ]
    return {
        "data_row": {"id": data_row_id, "global_key": f"gk-{data_row_id}", "row_data": row_data},
        "projects": {
            project_id: {
                "labels": [
                    {
                        "id": f"label-{data_row_id}",
                        "label_details": {"updated_at": "2026-07-01T00:00:00Z"},
                        "annotations": {"objects": [], "relationships": [], "classifications": classifications},
                    }
                ],
                "project_details": {"workflow_status": status},
            }
        },
    }
