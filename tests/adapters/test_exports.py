"""The ExportService adapters: Labelbox (against autospecced SDK classes) and the S3 snapshot (moto and memory)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY, create_autospec, patch

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from labelbox.schema.export_task import ExportTask, StreamType
from lbox import exceptions as lbox_errors
from moto import mock_aws

from labeltune.adapters.labelbox_export import LabelboxExportService
from labeltune.adapters.s3_export import S3ExportService, export_snapshot_key, object_exists
from labeltune.adapters.s3_store import S3ObjectStore
from labeltune.domain.models import ExportStatus
from labeltune.errors import ExportFailed, TransientError
from labeltune.ports import ExportService
from labeltune_tools.export_waiter import ExportWaiter
from tests.adapters import labelbox_doubles as lb
from tests.fakes import InMemoryObjectStore

PROJECT = "clproject0001"
TASK = "cltask0001"
IN_PROGRESS, COMPLETE, FAILED = ExportStatus.IN_PROGRESS, ExportStatus.COMPLETE, ExportStatus.FAILED


@pytest.fixture
def client() -> Any:
    return lb.client()


@pytest.fixture
def get_task() -> Iterator[Any]:
    """ExportTask.get_task, the SDK's static re-attach method, autospecced (so its signature is enforced)."""
    with patch.object(ExportTask, "get_task", autospec=True) as double:
        yield double


def service(client: Any) -> LabelboxExportService:
    return LabelboxExportService(client=client)


# --------------------------------------------------------------------------------------------------
# LabelboxExportService


def test_start_export_exports_done_rows_with_details_and_returns_the_task_id_without_waiting(client: Any) -> None:
    project = lb.project(PROJECT)
    task = lb.export_task(TASK, status="IN_PROGRESS")
    client.get_project.return_value = project
    project.export.return_value = task

    assert service(client).start_export(PROJECT) == TASK

    client.get_project.assert_called_once_with(PROJECT)
    project.export.assert_called_once_with(
        task_name=ANY,
        filters={"workflow_status": "Done"},
        params={"data_row_details": True, "label_details": True, "project_details": True},
    )
    task.wait_till_done.assert_not_called()
    task.wait_until_done.assert_not_called()
    task.get_buffered_stream.assert_not_called()


@pytest.mark.parametrize(
    ("sdk_status", "expected"),
    [
        ("IN_PROGRESS", IN_PROGRESS),
        ("COMPLETE", COMPLETE),
        ("FAILED", FAILED),
        ("complete", COMPLETE),
        ("CANCELED", FAILED),  # labelbox TaskStatus: a cancelled export will never complete
        ("CANCELLING", FAILED),
        ("UNKNOWN", IN_PROGRESS),  # not finished as far as we know: keep polling (bounded by the export deadline)
        ("SOMETHING_NEW", IN_PROGRESS),
        (None, IN_PROGRESS),
    ],
)
def test_export_status_reattaches_by_task_id_and_normalises(
    client: Any, get_task: Any, sdk_status: Any, expected: str
) -> None:
    get_task.return_value = lb.export_task(TASK, status=sdk_status)

    assert service(client).export_status(TASK) == expected
    get_task.assert_called_once_with(client, TASK)


def test_iter_export_streams_the_result_rows(client: Any, get_task: Any) -> None:
    rows = [lb.export_row("dr1"), lb.export_row("dr2")]
    task = lb.export_task(TASK, rows=rows)
    get_task.return_value = task

    assert list(service(client).iter_export(TASK)) == rows
    task.get_buffered_stream.assert_called_once_with(stream_type=StreamType.RESULT)
    get_task.assert_called_once_with(client, TASK)


def test_iter_export_without_a_result_yields_nothing_and_never_opens_the_stream(client: Any, get_task: Any) -> None:
    task = lb.export_task(TASK, rows=[])
    get_task.return_value = task

    assert list(service(client).iter_export(TASK)) == []
    task.has_result.assert_called_once_with()
    task.get_buffered_stream.assert_not_called()


def test_rows_that_failed_to_export_are_counted_from_the_errors_stream(client: Any, get_task: Any) -> None:
    """The result stream only has the rows that exported; has_errors() was never read, so the others vanished."""
    errors: list[dict[str, Any]] = [{"data_row": {"id": "dr9"}, "error": "could not serialise"}, {"data_row": {}}]
    task = lb.export_task(TASK, rows=[lb.export_row("dr1")], errors=errors)
    get_task.return_value = task
    assert service(client).export_errors(TASK) == 2
    task.get_buffered_stream.assert_called_once_with(stream_type=StreamType.ERRORS)
    get_task.return_value = lb.export_task(TASK, rows=[lb.export_row("dr1")])
    assert service(client).export_errors(TASK) == 0


def test_a_failed_export_is_a_permanent_error_naming_the_task(client: Any, get_task: Any) -> None:
    get_task.return_value = lb.export_task(TASK, status="FAILED")

    with pytest.raises(ExportFailed, match=TASK) as raised:
        list(service(client).iter_export(TASK))
    assert raised.value.task_id == TASK
    assert not isinstance(raised.value, TransientError)


def test_iterating_an_unfinished_export_is_retried_later(client: Any, get_task: Any) -> None:
    task = lb.export_task(TASK, status="IN_PROGRESS")
    get_task.return_value = task

    with pytest.raises(TransientError):
        list(service(client).iter_export(TASK))
    task.get_buffered_stream.assert_not_called()


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize(
    "error",
    [
        lbox_errors.NetworkError(requests.exceptions.ConnectionError("reset")),
        lbox_errors.ApiLimitError("rate limited"),
        lbox_errors.TimeoutError("timed out"),
        lbox_errors.InternalServerError("502"),
        requests.exceptions.ConnectionError("download reset"),
    ],
    ids=["network", "rate-limit", "timeout", "5xx", "connection"],
)
def test_sdk_outages_become_transient_errors(client: Any, get_task: Any, error: Exception) -> None:
    client.get_project.side_effect = error
    get_task.side_effect = error

    with pytest.raises(TransientError) as started:
        service(client).start_export(PROJECT)
    assert isinstance(started.value.__cause__, type(error))
    with pytest.raises(TransientError):
        service(client).export_status(TASK)
    with pytest.raises(TransientError):
        list(service(client).iter_export(TASK))


@pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (403, False)])
def test_a_result_file_download_error_is_transient_only_when_retrying_can_help(
    client: Any, get_task: Any, status: int, transient: bool
) -> None:
    task = lb.export_task(TASK, rows=[lb.export_row("dr1")])
    task.get_buffered_stream.return_value.__iter__.side_effect = _http_error(status)
    get_task.return_value = task

    expected = TransientError if transient else requests.HTTPError
    with pytest.raises(expected):
        list(service(client).iter_export(TASK))


@pytest.mark.parametrize(
    "error",
    [lbox_errors.AuthenticationError("Invalid API key"), lbox_errors.ResourceNotFoundError(message="no project")],
)
def test_errors_retrying_cannot_fix_pass_through(client: Any, error: Exception) -> None:
    client.get_project.side_effect = error

    with pytest.raises(type(error)):
        service(client).start_export(PROJECT)


def test_the_client_is_built_lazily_from_the_api_key() -> None:
    with patch("labelbox.Client", autospec=True) as client_class:
        exports = LabelboxExportService("lb-key")
        client_class.assert_not_called()
        instance = client_class.return_value
        instance.get_project.return_value = lb.project(PROJECT)
        instance.get_project.return_value.export.return_value = lb.export_task(TASK)

        assert exports.start_export(PROJECT) == TASK
        client_class.assert_called_once_with(api_key="lb-key")
        exports.start_export(PROJECT)
        client_class.assert_called_once()  # built once, reused


def test_a_service_needs_a_key_or_a_client() -> None:
    with pytest.raises(ValueError):
        LabelboxExportService()


def test_the_synchronous_label_source_starts_waits_and_streams(client: Any, get_task: Any) -> None:
    project = lb.project(PROJECT)
    client.get_project.return_value = project
    project.export.return_value = lb.export_task(TASK, status="IN_PROGRESS")
    get_task.return_value = lb.export_task(TASK, rows=[lb.export_row("dr1")])

    source = ExportWaiter(LabelboxExportService(client=client), sleep=lambda _: None)
    rows = list(source.iter_rows(PROJECT))

    assert [row["data_row"]["id"] for row in rows] == ["dr1"]
    project.export.return_value.wait_till_done.assert_not_called()


# --------------------------------------------------------------------------------------------------
# ExportWaiter: waiting on any ExportService


class ScriptedExports:
    """An ExportService whose status walks through a script."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.polls = 0

    def start_export(self, project_id: str) -> str:
        return f"task-{project_id}"

    def export_status(self, task_id: str) -> ExportStatus:
        self.polls += 1
        return ExportStatus(self.statuses[min(self.polls, len(self.statuses)) - 1])

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        yield {"task": task_id}

    def export_errors(self, task_id: str) -> int:
        return 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_waiting_polls_until_complete() -> None:
    clock = FakeClock()
    exports = ScriptedExports([IN_PROGRESS, IN_PROGRESS, COMPLETE])
    source = ExportWaiter(exports, poll_seconds=5, sleep=clock.sleep, clock=clock)

    assert list(source.iter_rows("p")) == [{"task": "task-p"}]
    assert clock.sleeps == [5, 5]


def test_waiting_ends_with_transient_error_on_timeout_and_export_failed_on_failure() -> None:
    clock = FakeClock()
    slow = ExportWaiter(
        ScriptedExports([IN_PROGRESS]), timeout_seconds=30, poll_seconds=10, sleep=clock.sleep, clock=clock
    )
    with pytest.raises(TransientError, match="task-p"):
        list(slow.iter_rows("p"))
    assert sum(clock.sleeps) == 30

    failing = ExportWaiter(ScriptedExports([IN_PROGRESS, FAILED]), sleep=clock.sleep, clock=clock)
    with pytest.raises(ExportFailed, match="task-p"):
        list(failing.iter_rows("p"))


# --------------------------------------------------------------------------------------------------
# S3ExportService, on moto's S3 and on the in-memory store

SNAPSHOT_LINES = [
    json.dumps(lb.export_row("dr1")),
    "",
    "{not json",
    json.dumps([1, 2]),  # valid JSON, but not a row: passed on for the converter to call malformed_row
    json.dumps(lb.export_row("dr2", status="IN_REVIEW")),
]


@pytest.fixture(params=["s3", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryObjectStore()
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="labeltune-artifacts")
        yield S3ObjectStore("labeltune-artifacts", client=s3)


def put_snapshot(store: Any, project_id: str, lines: list[str]) -> None:
    key = export_snapshot_key(project_id)
    if isinstance(store, InMemoryObjectStore):
        store.put_lines(key, lines)
    else:
        store._s3.put_object(Bucket=store.bucket, Key=key, Body="\n".join(lines).encode())


def test_s3_export_is_complete_once_the_snapshot_exists(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    exports: ExportService = S3ExportService(store)
    task_id = exports.start_export(PROJECT)
    assert task_id == export_snapshot_key(PROJECT) == f"exports/{PROJECT}.ndjson"

    with caplog.at_level(logging.WARNING):
        assert exports.export_status(task_id) == FAILED
    assert "no export snapshot" in caplog.text
    assert any(getattr(r, "export_uri", "").endswith(task_id) for r in caplog.records)

    put_snapshot(store, PROJECT, SNAPSHOT_LINES)
    assert exports.export_status(task_id) == COMPLETE


def test_s3_export_streams_rows_and_marks_malformed_lines(store: Any) -> None:
    put_snapshot(store, PROJECT, SNAPSHOT_LINES)
    exports = S3ExportService(store)

    rows = list(exports.iter_export(exports.start_export(PROJECT)))

    assert rows == [lb.export_row("dr1"), {"_malformed": True}, [1, 2], lb.export_row("dr2", status="IN_REVIEW")]


def test_s3_export_without_a_snapshot_fails_clearly(store: Any) -> None:
    exports = S3ExportService(store)

    with pytest.raises(ExportFailed, match=f"no export snapshot at .*exports/{PROJECT}.ndjson"):
        list(exports.iter_export(exports.start_export(PROJECT)))


@pytest.mark.parametrize("task_id", ["runs/r1/dataset/train.jsonl", "exports/../runs/x.ndjson", "exports/p.json"])
def test_s3_export_reads_only_snapshot_keys(store: Any, task_id: str) -> None:
    with pytest.raises(ExportFailed):
        S3ExportService(store).export_status(task_id)
    with pytest.raises(ExportFailed):
        list(S3ExportService(store).iter_export(task_id))


def test_an_empty_snapshot_exists_and_has_no_rows(store: Any) -> None:
    put_snapshot(store, PROJECT, [])
    exports = S3ExportService(store)

    assert exports.export_status(export_snapshot_key(PROJECT)) == COMPLETE
    assert list(exports.iter_export(export_snapshot_key(PROJECT))) == []


def test_object_exists_does_not_hide_access_errors() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")
    store = create_autospec(S3ObjectStore, instance=True, spec_set=True)
    store.read_lines.side_effect = denied

    with pytest.raises(ClientError):
        object_exists(store, "exports/p.ndjson")
