"""ExportService over an export file already in the artifacts bucket (`exports/<project_id>.ndjson`): what the
local stack uses instead of Labelbox (the demo uploads examples/ there), and in the cloud a way to train from
an export produced elsewhere (`LabelSource=s3`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from labeltune.domain.conversion import malformed_row
from labeltune.domain.models import ExportStatus
from labeltune.errors import ExportFailed
from labeltune.ports import ObjectStore

logger = logging.getLogger(__name__)

SNAPSHOT_PREFIX = "exports/"
SNAPSHOT_SUFFIX = ".ndjson"


def export_snapshot_key(project_id: str) -> str:
    """Where a project's export file lives in the artifacts bucket (the `LabelSource=s3` contract)."""
    return f"{SNAPSHOT_PREFIX}{project_id}{SNAPSHOT_SUFFIX}"


def _parsed(line: str) -> Any:
    """An unparsable line is passed on as a marker so the converter counts it (invalid_json); it never stops
    the run. Valid JSON that is not an export row is passed on as it is: the converter calls it malformed_row."""
    try:
        return json.loads(line)
    except (json.JSONDecodeError, RecursionError):  # too deeply nested counts as unparsable
        return malformed_row()


def _missing_object(error: Any) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def object_exists(store: ObjectStore, key: str) -> bool:
    """Whether `key` exists, through the ObjectStore port (which has no `exists`).

    Reads at most one line. A missing object is S3's NoSuchKey (404) or the in-memory store's KeyError;
    any other failure (access denied, throttling) is not "missing" and propagates.
    """
    from botocore.exceptions import ClientError

    try:
        lines = store.read_lines(key)
        try:
            next(iter(lines), None)
        finally:
            close = getattr(lines, "close", None)
            if callable(close):
                close()
    except KeyError:
        return False
    except ClientError as error:
        if _missing_object(error):
            return False
        raise
    return True


class S3ExportService:
    """ExportService over an export snapshot in the artifacts bucket (`exports/<project_id>.ndjson`).

    There is nothing to start: the task id is the snapshot's key, and the "export" is complete as soon as
    the object exists. A missing snapshot is FAILED rather than IN_PROGRESS, so a forgotten upload ends the
    run with a clear error instead of polling forever.
    """

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def start_export(self, project_id: str) -> str:
        return export_snapshot_key(project_id)

    @staticmethod
    def _checked_key(task_id: str) -> str:
        # The task id travels through the state machine's input: only snapshot keys may be read with it.
        if not (task_id.startswith(SNAPSHOT_PREFIX) and task_id.endswith(SNAPSHOT_SUFFIX)) or ".." in task_id:
            raise ExportFailed(task_id, f"{task_id!r} is not an export snapshot key ({SNAPSHOT_PREFIX}<id>.ndjson)")
        return task_id

    def export_status(self, task_id: str) -> ExportStatus:
        key = self._checked_key(task_id)
        if object_exists(self._store, key):
            return ExportStatus.COMPLETE
        logger.warning(
            "no export snapshot: upload the project's export there, or deploy with LabelSource=labelbox",
            extra={"export_uri": self._store.uri(key)},
        )
        return ExportStatus.FAILED

    def export_errors(self, task_id: str) -> int:
        """An export file put in the bucket holds the rows that were exported; none failed here."""
        self._checked_key(task_id)
        return 0

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The snapshot's rows; ExportFailed when there is no snapshot (S3's NoSuchKey comes with the first
        line, the in-memory store's KeyError at the call: both mean the same)."""
        from botocore.exceptions import ClientError

        key = self._checked_key(task_id)
        missing = ExportFailed(task_id, f"no export snapshot at {self._store.uri(key)}")
        try:
            for line in self._store.read_lines(key):
                if line.strip():
                    yield _parsed(line)
        except KeyError as error:
            raise missing from error
        except ClientError as error:
            if _missing_object(error):
                raise missing from error
            raise
