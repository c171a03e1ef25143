"""LabelSource adapters: the real Labelbox export, and an export snapshot already in S3.

The S3 snapshot is what the local stack uses instead of Labelbox (the demo uploads examples/ there);
in the cloud it lets a team train from an export they produced elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from labeltune.errors import TransientError
from labeltune.ports import ObjectStore

EXPORT_PARAMS = {"data_row_details": True, "label_details": True, "project_details": True}
EXPORT_TIMEOUT_SECONDS = 780  # leaves headroom inside the prepare function's 15-minute limit


def export_snapshot_key(project_id: str) -> str:
    return f"exports/{project_id}.ndjson"


def _parsed(line: str) -> Any:
    """A malformed line is passed on as a marker so the converter counts it; it never stops the run."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {"_malformed": True}


class LabelboxExportFailed(Exception):
    """Labelbox reported the export task as failed: retrying the same export will not help."""


class S3ExportSource:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def iter_rows(self, project_id: str) -> Iterator[dict[str, Any]]:
        for line in self._store.read_lines(export_snapshot_key(project_id)):
            if line.strip():
                yield _parsed(line)


class LabelboxExportSource:
    """Exports the project's Done rows through the Labelbox SDK and streams them row by row."""

    def __init__(self, api_key: str, client: Any | None = None) -> None:
        if client is None:
            import labelbox  # imported lazily: it is heavy and only the prepare step needs it

            client = labelbox.Client(api_key=api_key)
        self._client = client

    def iter_rows(self, project_id: str) -> Iterator[dict[str, Any]]:
        from labelbox.schema.export_task import StreamType

        project = self._client.get_project(project_id)
        task = project.export(
            task_name=f"labeltune-{project_id}",
            filters={"workflow_status": "Done"},
            params=EXPORT_PARAMS,
        )
        task.wait_till_done(timeout_seconds=EXPORT_TIMEOUT_SECONDS)
        if task.status == "FAILED":
            raise LabelboxExportFailed(f"Labelbox export {task.uid} failed")
        if task.status != "COMPLETE":  # wait_till_done returns silently on timeout: try again later
            raise TransientError(f"Labelbox export {task.uid} is still {task.status}")
        if not task.has_result():
            return
        for output in task.get_buffered_stream(stream_type=StreamType.RESULT):
            yield output.json
