"""Label export adapters: the real Labelbox export, and an export snapshot already in S3.

Two shapes of the same thing:
- `ExportService` (start / status / iter): what the state machine uses, because a Labelbox export can run
  for many minutes and no Lambda should sit waiting on one;
- `LabelSource` (iter_rows): the older synchronous shape, kept for callers that can afford to wait.

The S3 snapshot is what the local stack uses instead of Labelbox (the demo uploads examples/ there);
in the cloud it lets a team train from an export they produced elsewhere.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from labeltune.errors import ExportFailed, TransientError
from labeltune.ports import ExportService, ObjectStore

logger = logging.getLogger(__name__)

EXPORT_FILTERS = {"workflow_status": "Done"}
EXPORT_PARAMS = {"data_row_details": True, "label_details": True, "project_details": True}
EXPORT_TIMEOUT_SECONDS = 780  # leaves headroom inside the prepare function's 15-minute limit
EXPORT_POLL_SECONDS = 5.0

IN_PROGRESS = "IN_PROGRESS"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
_KNOWN_STATUSES = frozenset({IN_PROGRESS, COMPLETE, FAILED})

SNAPSHOT_PREFIX = "exports/"
SNAPSHOT_SUFFIX = ".ndjson"
MALFORMED_ROW: dict[str, Any] = {"_malformed": True}


def export_snapshot_key(project_id: str) -> str:
    """Where a project's export snapshot lives in the artifacts bucket (the `LabelSource=s3` contract)."""
    return f"{SNAPSHOT_PREFIX}{project_id}{SNAPSHOT_SUFFIX}"


_ENDED_WITHOUT_RESULT = {"CANCELED", "CANCELLED", "CANCELLING"}  # labelbox TaskStatus: a cancelled task ends


def normalise_status(status: Any) -> str:
    """IN_PROGRESS, COMPLETE or FAILED. A cancelled export is FAILED (it will never complete). Anything else
    (UNKNOWN, a new Labelbox status, None) counts as not finished: the state machine keeps polling, bounded
    by the export deadline, instead of failing a run on a status it has not seen before."""
    text = str(getattr(status, "value", status) or "").strip().upper()
    if text in _ENDED_WITHOUT_RESULT:
        return FAILED
    return text if text in _KNOWN_STATUSES else IN_PROGRESS


def _parsed(line: str) -> Any:
    """An unparsable line is passed on as a marker so the converter counts it (invalid_json); it never stops
    the run. Valid JSON that is not an export row is passed on as it is: the converter calls it malformed_row."""
    try:
        return json.loads(line)
    except (json.JSONDecodeError, RecursionError):  # too deeply nested counts as unparsable
        return dict(MALFORMED_ROW)


# --------------------------------------------------------------------------------------------------
# Labelbox


def _is_transient(error: BaseException) -> bool:
    """Rate limits, 5xx, timeouts and connection failures, from the GraphQL client or the file download.

    The SDK's GraphQL client already retries 5xx and timeouts itself; what reaches us has outlasted that,
    and the state machine's backoff is the next, slower, retry.
    """
    import requests
    from lbox import exceptions as lbox_errors

    temporary = (
        lbox_errors.ApiLimitError,
        lbox_errors.NetworkError,
        lbox_errors.TimeoutError,
        lbox_errors.InternalServerError,
    )
    if isinstance(error, temporary):
        return True
    if isinstance(error, requests.exceptions.HTTPError):  # the export's result files come over plain HTTPS
        status = getattr(error.response, "status_code", None)
        return status is None or status == 429 or status >= 500
    return isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


@contextmanager
def _sdk_errors(action: str, task_or_project_id: str) -> Iterator[None]:
    """Re-raise the SDK's temporary failures as TransientError (ids only in the message: no row data)."""
    try:
        yield
    except Exception as error:
        if _is_transient(error):
            raise TransientError(f"Labelbox {action} {task_or_project_id}: {type(error).__name__}") from error
        raise


class LabelboxExportService:
    """ExportService over the Labelbox SDK: `project.export` of the Done rows, re-attached by task id.

    The client is built on first use, so constructing the service neither imports the (heavy) SDK nor
    talks to Labelbox. Re-attaching goes through `ExportTask.get_task`, which only finds tasks created
    by the same Labelbox user: start and poll with the same API key.
    """

    def __init__(self, api_key: str | None = None, *, client: Any | None = None) -> None:
        if client is None and not api_key:
            raise ValueError("LabelboxExportService needs an API key or a client")
        self._api_key = api_key
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import labelbox  # imported lazily: it is heavy and only the export steps need it

            self._client = labelbox.Client(api_key=self._api_key)
        return self._client

    def start_export(self, project_id: str) -> str:
        """Start an export of the project's Done rows and return its task id at once (never waits)."""
        with _sdk_errors("export start for project", project_id):
            project = self.client.get_project(project_id)
            task = project.export(task_name=f"labeltune-{project_id}", filters=EXPORT_FILTERS, params=EXPORT_PARAMS)
            task_id = str(task.uid)
        logger.info("labelbox export started", extra={"project_id": project_id, "export_task_id": task_id})
        return task_id

    def _task(self, task_id: str) -> Any:
        from labelbox.schema.export_task import ExportTask

        return ExportTask.get_task(self.client, task_id)

    def export_status(self, task_id: str) -> str:
        with _sdk_errors("export status of task", task_id):
            return normalise_status(self._task(task_id).status)

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The export's rows, streamed. The SDK buffers the result files in a temporary file first."""
        from labelbox.schema.export_task import StreamType

        with _sdk_errors("export result of task", task_id):
            task = self._task(task_id)
            status = normalise_status(task.status)
            if status == FAILED:
                raise ExportFailed(task_id, f"Labelbox export task {task_id} failed")
            if status != COMPLETE:
                raise TransientError(f"Labelbox export task {task_id} is not complete yet")
            if not task.has_result():  # an export with no rows has no result stream at all
                logger.info("labelbox export has no rows", extra={"export_task_id": task_id})
                return
            for output in task.get_buffered_stream(stream_type=StreamType.RESULT):
                yield output.json

    def export_errors(self, task_id: str) -> int:
        """Rows Labelbox failed to export: its ERRORS stream, one line each (only ids and messages in it)."""
        from labelbox.schema.export_task import StreamType

        with _sdk_errors("export errors of task", task_id):
            task = self._task(task_id)
            if not task.has_errors():
                return 0
            return sum(1 for _ in task.get_buffered_stream(stream_type=StreamType.ERRORS))


# --------------------------------------------------------------------------------------------------
# S3 snapshot


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

    def export_status(self, task_id: str) -> str:
        key = self._checked_key(task_id)
        if object_exists(self._store, key):
            return COMPLETE
        logger.warning(
            "no export snapshot: upload the project's export there, or deploy with LabelSource=labelbox",
            extra={"export_uri": self._store.uri(key)},
        )
        return FAILED

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


# --------------------------------------------------------------------------------------------------
# LabelSource over an ExportService (synchronous: waits inside the caller)


class ExportServiceSource:
    """LabelSource that runs a whole export in one call: start, poll until done, stream the rows.

    For callers that can wait (the CLI, the one-shot prepare step). A still-running export after
    `timeout_seconds` raises TransientError, so a retry picks the work up again.
    """

    def __init__(
        self,
        exports: ExportService,
        *,
        timeout_seconds: float = EXPORT_TIMEOUT_SECONDS,
        poll_seconds: float = EXPORT_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._exports = exports
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._sleep = sleep
        self._clock = clock

    def wait(self, task_id: str) -> None:
        """Return once the export is COMPLETE; ExportFailed if it failed, TransientError on timeout."""
        deadline = self._clock() + self._timeout
        while True:
            status = self._exports.export_status(task_id)
            if status == COMPLETE:
                return
            if status == FAILED:
                raise ExportFailed(task_id, f"export task {task_id} failed")
            if self._clock() >= deadline:
                raise TransientError(f"export task {task_id} still {status} after {self._timeout:.0f} s")
            self._sleep(self._poll)

    def iter_rows(self, project_id: str) -> Iterator[dict[str, Any]]:
        task_id = self._exports.start_export(project_id)
        self.wait(task_id)
        yield from self._exports.iter_export(task_id)
