"""The export stage: started, polled by the state machine, snapshotted into the run with URLs resolved."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from labeltune.clock import fixed_clock, parse_iso
from labeltune.errors import ExportFailed
from labeltune.pipeline.export import (
    EXPORT_DEADLINE,
    EXPORT_FIRST_WAIT_SECONDS,
    EXPORT_MAX_WAIT_SECONDS,
    FETCH_ERROR_FIELD,
    check_export,
    snapshot_export,
    snapshot_key,
    start_export,
)
from tests.fakes import (
    DictRowDataFetcher,
    InMemoryObjectStore,
    InMemoryRunStore,
    ScriptedExportService,
)

RUN = "run-1"
NOW = "2026-11-26T10:00:00.000+00:00"
CLOCK = fixed_clock(NOW)


def row(row_id: str, row_data: object) -> dict:
    return {"data_row": {"id": row_id, "row_data": row_data}, "projects": {}}


@pytest.fixture
def runs() -> InMemoryRunStore:
    store = InMemoryRunStore()
    store.create_run(RUN, "p")
    return store


def test_start_records_the_task_and_reports_its_status(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(statuses=("IN_PROGRESS",))
    state = start_export(RUN, "p", exports, runs, CLOCK)
    assert state.status == "IN_PROGRESS" and exports.started == ["p"]
    assert runs.get_run(RUN)["export_task_id"] == state.task_id
    assert runs.get_run(RUN)["status"] == "EXPORTING"


def test_check_passes_progress_through_and_fails_loudly() -> None:
    exports = ScriptedExportService(statuses=("IN_PROGRESS", "COMPLETE", "FAILED"))
    assert check_export("t", NOW, exports, CLOCK).status == "IN_PROGRESS"
    assert check_export("t", NOW, exports, CLOCK).status == "COMPLETE"
    with pytest.raises(ExportFailed, match="t failed"):
        check_export("t", NOW, exports, CLOCK)


def test_a_fast_export_is_looked_at_after_seconds_and_a_slow_one_every_few_minutes() -> None:
    """The wait used to be the fine-tuning poll interval (300 s by default) even for an export done in 3 s."""
    exports = ScriptedExportService(statuses=("IN_PROGRESS",))
    waits = [
        check_export("t", NOW, exports, fixed_clock(parse_iso(NOW) + timedelta(seconds=waited))).wait_seconds
        for waited in (0, 5, 40, 3600)
    ]
    assert waits == [EXPORT_FIRST_WAIT_SECONDS, 5, 40, EXPORT_MAX_WAIT_SECONDS] == [5, 5, 40, 300]


def test_an_export_that_never_finishes_fails_after_the_deadline() -> None:
    exports = ScriptedExportService(statuses=("IN_PROGRESS",))
    started = parse_iso(NOW)
    assert check_export("t", NOW, exports, fixed_clock(started + EXPORT_DEADLINE)).status == "IN_PROGRESS"
    with pytest.raises(ExportFailed, match="still IN_PROGRESS"):
        check_export("t", NOW, exports, fixed_clock(started + EXPORT_DEADLINE + timedelta(seconds=1)))


def test_a_retried_start_reuses_the_export_it_started(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(statuses=("IN_PROGRESS",))
    first = start_export(RUN, "p", exports, runs, CLOCK)
    again = start_export(RUN, "p", exports, runs, CLOCK)
    assert exports.started == ["p"] and again.task_id == first.task_id and again.started_at == first.started_at


def test_snapshot_streams_rows_and_resolves_urls(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(
        rows=[
            row("a", "Ann Lee: hello"),
            row("b", "https://files.example/b.txt"),
            row("c", "  https://files.example/missing.txt  "),
            {"_malformed": True},
        ]
    )
    fetcher = DictRowDataFetcher(pages={"https://files.example/b.txt": "Bo Kim: hi there"})
    store = InMemoryObjectStore()
    snapshot = snapshot_export(RUN, "task-1", exports, fetcher, store, runs)
    assert (snapshot.rows, snapshot.fetched_urls, snapshot.fetch_failures) == (4, 2, 1)
    assert snapshot.key == snapshot_key(RUN)
    lines = [json.loads(line) for line in store.read_lines(snapshot.key)]
    assert lines[0]["data_row"]["row_data"] == "Ann Lee: hello"
    assert lines[1]["data_row"]["row_data"] == "Bo Kim: hi there"
    assert lines[2][FETCH_ERROR_FIELD] == "row_data_fetch_failed"
    assert sorted(fetcher.fetched) == ["https://files.example/b.txt", "https://files.example/missing.txt"]
    record = runs.get_run(RUN)
    assert record["export_rows"] == 4 and record["row_data_fetch_failures"] == 1
    assert record["export_uri"].endswith(snapshot.key)


def test_storage_uris_are_marked_with_their_reason_and_never_fetched(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(rows=[row("a", "gs://acme/chats/a.txt"), row("b", "s3://acme/chats/b.txt")])
    fetcher = DictRowDataFetcher()
    store = InMemoryObjectStore()
    snapshot = snapshot_export(RUN, "t", exports, fetcher, store, runs)
    assert snapshot.storage_uris == 2 and fetcher.fetched == []
    assert [line[FETCH_ERROR_FIELD] for line in store.read_jsonl(snapshot.key)] == ["row_data_storage_uri"] * 2
    assert runs.get_run(RUN)["row_data_storage_uris"] == 2


def test_rows_that_failed_to_export_are_counted_on_the_run(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(rows=[row(str(i), "x") for i in range(199)], errors=1)
    snapshot = snapshot_export(RUN, "t", exports, DictRowDataFetcher(), InMemoryObjectStore(), runs)
    assert snapshot.export_errors == 1 and runs.get_run(RUN)["export_errors"] == 1  # 0.5%, within 1%


def test_too_many_rows_failing_to_export_fails_the_run_before_training(runs: InMemoryRunStore) -> None:
    exports = ScriptedExportService(rows=[row(str(i), "x") for i in range(90)], errors=10)
    with pytest.raises(ExportFailed, match=r"10 of 100 rows failed to export at Labelbox \(10.0%\)"):
        snapshot_export(RUN, "t", exports, DictRowDataFetcher(), InMemoryObjectStore(), runs, 0.05)
    assert runs.get_run(RUN)["export_errors"] == 10  # recorded either way


def test_snapshot_source_reads_back_what_was_written(runs: InMemoryRunStore) -> None:
    store = InMemoryObjectStore()
    exports = ScriptedExportService(rows=[row("a", "x"), row("b", "y")])
    snapshot = snapshot_export(RUN, "t", exports, DictRowDataFetcher(), store, runs)
    assert [r["data_row"]["id"] for r in store.read_jsonl(snapshot.key)] == ["a", "b"]
