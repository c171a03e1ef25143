"""What `labeltune runs` prints, from fixed API answers and a fixed time (runs_view is pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labeltune_tools import runs_view

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)

FINISHED_RUN = {
    "run_id": "run-20250304-a",
    "project_id": "p1",
    "status": "SUCCEEDED",
    "provider": "openai",
    "created_at": "2025-03-04T11:50:00+00:00",
    "finished_at": "2025-03-04T11:53:05+00:00",
    "rows_read": 86,
    "train_examples": 60,
    "validation_examples": 8,
    "eval_examples": 10,
    "rejected_rows": 8,
    "job_status": "succeeded",
    "trained_tokens": 12345,
    "base_model": "gpt-4.1-mini-2025-04-14",
    "fine_tuned_model": "ft:gpt-4.1-mini:run-a",
    "evaluated_examples": 10,
    "base_rouge_l": 0.21,
    "tuned_rouge_l": 0.4567,
    "base_leak_rate": 0.1,
    "tuned_leak_rate": 0.0,
    "gate_passed": False,
    "gate": {"passed": False, "failures": ["ROUGE-L gain 0.05 below 0.10"]},
}
IN_FLIGHT = {
    "run_id": "run-20250304-b",
    "status": "TRAINING",
    "provider": "bedrock",
    "created_at": "2025-03-04T10:00:00Z",
}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (-1, "-"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (185, "3m 05s"),
        (3600, "1h 00m"),
        (7440, "2h 04m"),
        (93600, "1d 02h"),
    ],
)
def test_durations(seconds: float | None, shown: str) -> None:
    assert runs_view.duration(seconds) == shown


def test_runs_table_aligns_columns_with_ages_and_durations() -> None:
    assert runs_view.runs_table([IN_FLIGHT, FINISHED_RUN], NOW) == [
        "RUN             STATUS     PROVIDER  STARTED      DURATION  GATE",
        "run-20250304-b  TRAINING   bedrock   2h 00m ago   2h 00m+   -",
        "run-20250304-a  SUCCEEDED  openai    10m 00s ago  3m 05s    failed",
    ]
    assert runs_view.runs_table([], NOW) == ["no runs"]


def test_run_details_show_what_the_api_returned_and_nothing_else() -> None:
    assert runs_view.run_details(FINISHED_RUN, NOW) == [
        "run:          run-20250304-a",
        "project:      p1",
        "status:       SUCCEEDED",
        "provider:     openai",
        "created:      2025-03-04T11:50:00+00:00 (10m 00s ago)",
        "duration:     3m 05s",
        "finished:     2025-03-04T11:53:05+00:00",
        "dataset:      rows 86, train 60, validation 8, eval 10, rejected 8",
        "base model:   gpt-4.1-mini-2025-04-14",
        "job:          succeeded, 12345 trained tokens",
        "tuned model:  ft:gpt-4.1-mini:run-a",
        "evaluation:   ROUGE-L 0.210 -> 0.457, leak rate 0.100 -> 0.000, 10 examples",
        "gate:         failed",
        "gate failure: ROUGE-L gain 0.05 below 0.10",
    ]
    failed = {"run_id": "r", "status": "FAILED", "error": "DatasetTooSmall", "error_message": "too\n few  rows"}
    lines = runs_view.run_details(failed, NOW)
    assert lines[-2:] == ["error:         DatasetTooSmall", "error message: too few rows"]
    assert "created:       - (-)" in lines


def test_timeline_lines_with_a_state_still_running() -> None:
    timeline = {
        "run_id": "r",
        "execution_status": "RUNNING",
        "started_at": "2025-03-04T11:55:00Z",
        "stopped_at": None,
        "states": [
            {
                "name": "StartExport",
                "entered_at": "2025-03-04T11:55:00Z",
                "exited_at": "2025-03-04T11:55:02Z",
                "duration_seconds": 2.4,
                "outcome": "succeeded",
            },
            {
                "name": "AwaitFineTune",
                "entered_at": "2025-03-04T11:56:00Z",
                "exited_at": None,
                "duration_seconds": None,
                "outcome": "running",
            },
        ],
        "truncated": True,
    }
    assert runs_view.timeline_lines(timeline, NOW) == [
        "execution: RUNNING, 5m 00s so far",
        "STATE          ENTERED               DURATION  OUTCOME",
        "StartExport    2025-03-04T11:55:00Z  2s        succeeded",
        "AwaitFineTune  2025-03-04T11:56:00Z  4m 00s+   running",
        "(truncated: the execution's history is longer than what is shown)",
    ]
    assert runs_view.timeline_lines({"execution_status": None, "states": []}, NOW) == [
        "execution: not started",
        "no states entered",
    ]


def test_progress_names_the_current_state_and_what_has_appeared() -> None:
    timeline = {
        "states": [{"name": "PrepareDataset", "outcome": "succeeded"}, {"name": "StartFineTune", "outcome": "running"}]
    }
    assert runs_view.progress({"status": "PREPARING"}, None) == [("status", "PREPARING"), ("state", "PREPARING")]
    fields = runs_view.progress(FINISHED_RUN, timeline)
    assert fields == [
        ("status", "SUCCEEDED"),
        ("state", "StartFineTune"),
        ("dataset", "rows 86, train 60, validation 8, eval 10, rejected 8"),
        ("job", "succeeded, 12345 trained tokens"),
        ("evaluation", "ROUGE-L 0.210 -> 0.457, leak rate 0.100 -> 0.000, 10 examples"),
        ("gate", "failed"),
    ]
    ended = {"states": [{"name": "RunFailed", "outcome": "failed"}]}
    assert runs_view.current_state({"status": "FAILED"}, ended) == "RunFailed (failed)"
    assert runs_view.progress_line([("status", "TRAINING")], 65) == "[ 1m 05s] status: TRAINING"


def test_exit_codes_follow_the_contract() -> None:
    assert [runs_view.exit_code(s) for s in ("SUCCEEDED", "FAILED", "CANCELLED", "TRAINING", None)] == [
        0,
        1,
        3,
        None,
        None,
    ]
    assert runs_view.EXIT_TIMEOUT == 4


def test_project_lines() -> None:
    assert runs_view.project_lines({"project_id": "p1", "config": {"a": 1}, "provider": "openai"}) == [
        "project_id: p1",
        'config:     {"a": 1}',
        "provider:   openai",
    ]
