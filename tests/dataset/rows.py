"""Export rows for the dataset tests, in Labelbox's export format (REFERENCE.md section 3)."""

from __future__ import annotations

import json
from typing import Any

PROJECT = "clx-dataset-tests"
SYSTEM = "Summarise the support chat. Leave out all personal data."


def label(*classifications: dict[str, Any], label_id: str = "lbl-1", updated: str = "2026-03-02T10:00:00.000+00:00"):
    return {
        "id": label_id,
        "label_kind": "Default",
        "label_details": {"created_at": updated, "updated_at": updated, "created_by": "a@b.c", "reviews": []},
        "annotations": {"objects": [], "relationships": [], "classifications": list(classifications)},
    }


def text(name: str, content: Any) -> dict[str, Any]:
    return {
        "feature_id": f"feat-{name}",
        "feature_schema_id": f"fs-{name}",
        "name": name,
        "value": name,
        "text_answer": {"content": content},
    }


def row(
    n: int,
    *,
    chat: Any = None,
    summary: Any = None,
    status: str = "DONE",
    project: str = PROJECT,
    data_row_id: str | None = None,
    global_key: str | None = None,
    labels: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Row number n: a unique chat and summary unless given."""
    chat = (
        f"Ann Lee: Hello, my order ORD-{100000 + n} is late.\nBob Stone: Sorry, I will check order {n}."
        if chat is None
        else chat
    )
    summary = f"Customer {n} reported a late order; the agent checked it." if summary is None else summary
    return {
        "data_row": {
            "id": data_row_id or f"dr-{n:05d}",
            "global_key": global_key or f"chat-{n:05d}",
            "external_id": f"chat-{n:05d}.txt",
            "row_data": chat,
        },
        "media_attributes": {"mime_type": "text/plain"},
        "projects": {
            project: {
                "name": "Summaries",
                "labels": [label(text("summary", summary))] if labels is None else labels,
                "project_details": {"batch_id": "b-1", "workflow_status": status, "workflow_history": []},
            }
        },
    }


def line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False) + "\n").encode("utf-8")


def valid_lines(count: int, start: int = 0) -> list[bytes]:
    return [line(row(n)) for n in range(start, start + count)]
