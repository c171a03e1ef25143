"""ExportService over the Labelbox SDK: `project.export` of a project's Done rows, started by one step and
re-attached by task id in the next (a Labelbox export can run for many minutes; no Lambda waits on one)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from labeltune.domain.models import ExportStatus
from labeltune.errors import ExportFailed, TransientError

logger = logging.getLogger(__name__)

EXPORT_FILTERS = {"workflow_status": "Done"}
EXPORT_PARAMS = {"data_row_details": True, "label_details": True, "project_details": True}

_ENDED_WITHOUT_RESULT = {"CANCELED", "CANCELLED", "CANCELLING"}  # labelbox TaskStatus: a cancelled task ends


def normalise_status(status: Any) -> ExportStatus:
    """IN_PROGRESS, COMPLETE or FAILED. A cancelled export is FAILED (it will never complete). Anything else
    (UNKNOWN, a new Labelbox status, None) counts as not finished: the state machine keeps polling, bounded
    by the export deadline, instead of failing a run on a status it has not seen before."""
    text = str(getattr(status, "value", status) or "").strip().upper()
    if text in _ENDED_WITHOUT_RESULT:
        return ExportStatus.FAILED
    try:
        return ExportStatus(text)
    except ValueError:
        return ExportStatus.IN_PROGRESS


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

    def export_status(self, task_id: str) -> ExportStatus:
        with _sdk_errors("export status of task", task_id):
            return normalise_status(self._task(task_id).status)

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The export's rows, streamed. The SDK buffers the result files in a temporary file first."""
        from labelbox.schema.export_task import StreamType

        with _sdk_errors("export result of task", task_id):
            task = self._task(task_id)
            status = normalise_status(task.status)
            if status is ExportStatus.FAILED:
                raise ExportFailed(task_id, f"Labelbox export task {task_id} failed")
            if status is not ExportStatus.COMPLETE:
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
