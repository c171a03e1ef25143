"""Export stage: start the export, let the state machine poll it, then snapshot its rows into the run.

The snapshot (runs/<run>/export.ndjson) is what the dataset is built from and stays with the run for
audit and reproducibility. Rows whose `row_data` is a URL are fetched here, once, so the snapshot holds
the text that was trained on; a row that cannot be fetched keeps a reason code and is rejected later.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from labeltune.clock import Clock, iso, parse_iso
from labeltune.domain.conversion import Reason
from labeltune.domain.models import ExportStatus, RunStatus
from labeltune.domain.project_config import DEFAULT_MAX_EXPORT_ERROR_RATE
from labeltune.domain.row_data import is_storage_uri, web_url
from labeltune.domain.waits import next_wait
from labeltune.errors import ExportFailed, RowDataFetchError
from labeltune.pipeline.cancel import RunCancelled, cancelled_meanwhile
from labeltune.ports import ExportService, ObjectStore, RowDataFetcher, RunStore

FETCH_ERROR_FIELD = "_row_data_error"
FETCH_CONCURRENCY = 8
FETCH_BATCH_ROWS = 256  # read by the converter: the row is rejected with this reason


EXPORT_DEADLINE = timedelta(hours=6)  # Labelbox exports take minutes; hours mean it is stuck
# Looks at an unfinished export: after 5 s, then about doubling, at most every 5 minutes (at most 72 + 7 looks).
EXPORT_FIRST_WAIT_SECONDS = 5
EXPORT_MAX_WAIT_SECONDS = 300


class ExportState(BaseModel):
    task_id: str
    status: ExportStatus
    started_at: str
    wait_seconds: int = Field(EXPORT_FIRST_WAIT_SECONDS, description="how long the state machine waits to look again")


class Snapshot(BaseModel):
    key: str
    rows: int
    fetched_urls: int
    fetch_failures: int
    storage_uris: int = 0
    export_errors: int = 0


def snapshot_key(run_id: str) -> str:
    return f"runs/{run_id}/export.ndjson"


def start_export(run_id: str, project_id: str, exports: ExportService, runs: RunStore, clock: Clock) -> ExportState:
    """Start the export once per run: a retry finds the task recorded on the run instead of starting another. A run
    cancelled before its execution started (pipeline/cancel.py) contacts nobody: it ends here, as cancelled."""
    run = runs.get_run(run_id) or {}
    if cancelled_meanwhile(run):
        raise RunCancelled(f"run {run_id} was cancelled before its export started")
    task_id, started_at = run.get("export_task_id"), run.get("export_started_at")
    if not task_id or not started_at:
        task_id, started_at = exports.start_export(project_id), iso(clock())
        runs.update_run(run_id, status=RunStatus.EXPORTING.value, export_task_id=task_id, export_started_at=started_at)
    return check_export(task_id, started_at, exports, clock)


def check_export(task_id: str, started_at: str, exports: ExportService, clock: Clock) -> ExportState:
    status = exports.export_status(task_id)
    if status is ExportStatus.FAILED:
        raise ExportFailed(task_id, f"export {task_id} failed")
    waited = clock() - parse_iso(started_at)
    if status is not ExportStatus.COMPLETE and waited > EXPORT_DEADLINE:
        raise ExportFailed(task_id, f"export {task_id} is still {status} after {waited}; giving up")
    wait = next_wait(waited, EXPORT_FIRST_WAIT_SECONDS, EXPORT_MAX_WAIT_SECONDS)
    return ExportState(task_id=task_id, status=status, started_at=started_at, wait_seconds=wait)


def _fetch(row: Any, fetcher: RowDataFetcher) -> bool:
    """Replace the row's URL by the text it names; on failure keep a reason code. True when it failed."""
    data_row = row["data_row"]
    try:
        data_row["row_data"] = fetcher.fetch(data_row["row_data"].strip())
    except RowDataFetchError as error:
        row[FETCH_ERROR_FIELD] = error.reason
        return True
    return False


def _row_data(row: Any) -> Any:
    data_row = row.get("data_row") if isinstance(row, dict) else None
    return data_row.get("row_data") if isinstance(data_row, dict) else None


def _mark_storage_uri(row: Any) -> bool:
    """A row whose row_data names a storage object (gs://, s3://) keeps a reason code; True when it does."""
    if is_storage_uri(_row_data(row)):
        row[FETCH_ERROR_FIELD] = Reason.ROW_DATA_STORAGE_URI
        return True
    return False


def snapshot_export(
    run_id: str,
    task_id: str,
    exports: ExportService,
    fetcher: RowDataFetcher,
    store: ObjectStore,
    runs: RunStore,
    max_export_error_rate: float = DEFAULT_MAX_EXPORT_ERROR_RATE,
    concurrency: int = FETCH_CONCURRENCY,
) -> Snapshot:
    """Stream the export into the run's snapshot, fetching web row_data and marking storage URIs; count the
    rows Labelbox failed to export (they are not in the result stream) and fail the run above the project's
    threshold, rather than train on a silently smaller set."""
    tally = {"rows": 0, "fetched_urls": 0, "fetch_failures": 0, "storage_uris": 0}
    key = snapshot_key(run_id)
    rows = iter(exports.iter_export(task_id))
    with (
        tempfile.TemporaryDirectory(prefix="labeltune-export-") as tmp,
        ThreadPoolExecutor(max_workers=concurrency) as pool,
    ):
        path = Path(tmp) / "export.ndjson"
        with path.open("w", encoding="utf-8") as out:
            # Rows go out in export order, a bounded batch at a time; the URLs within a batch are fetched
            # concurrently, so a few slow hosts do not add up row by row.
            while batch := list(itertools.islice(rows, FETCH_BATCH_ROWS)):
                with_urls = [row for row in batch if web_url(_row_data(row)) is not None]
                failures = sum(pool.map(lambda row: _fetch(row, fetcher), with_urls))
                tally["rows"] += len(batch)
                tally["fetched_urls"] += len(with_urls)
                tally["fetch_failures"] += failures
                tally["storage_uris"] += sum(_mark_storage_uri(row) for row in batch)
                out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in batch)
        store.upload_file(key, path)
    export_errors = exports.export_errors(task_id)
    runs.update_run(
        run_id,
        export_rows=tally["rows"],
        export_errors=export_errors,
        export_uri=store.uri(key),
        row_data_fetch_failures=tally["fetch_failures"],
        row_data_storage_uris=tally["storage_uris"],
    )
    exported = tally["rows"] + export_errors
    if export_errors and export_errors > max_export_error_rate * exported:
        raise ExportFailed(
            task_id,
            f"{export_errors} of {exported} rows failed to export at Labelbox ({export_errors / exported:.1%}), "
            f"more than the project allows (max_export_error_rate {max_export_error_rate:.1%})",
        )
    return Snapshot(key=key, export_errors=export_errors, **tally)
