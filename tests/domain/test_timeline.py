"""The timeline fold over hand-written Step Functions history events (the shapes GetExecutionHistory returns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from labeltune.domain.timeline import fold_history

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


class History:
    """Events one second apart unless told, numbered as Step Functions numbers them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.at = T0

    def add(self, kind: str, after: float = 1.0, name: str | None = None, **details: Any) -> History:
        self.at += timedelta(seconds=after)
        event: dict[str, Any] = {"timestamp": self.at, "type": kind, "id": len(self.events) + 1, **details}
        if name is not None:
            key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
            event[key] = {"name": name}
        self.events.append(event)
        return self

    def task(self, name: str, seconds: float, *results: str) -> History:
        self.add("TaskStateEntered", name=name)
        self.add("LambdaFunctionScheduled", 0).add("LambdaFunctionStarted", 0)
        for result in results or ("LambdaFunctionSucceeded",):
            self.add(result, seconds)
        return self.add("TaskStateExited", 0, name=name)


def entries(history: History, **kwargs: Any) -> list[tuple[Any, ...]]:
    timeline = fold_history(history.events, **kwargs).as_json("run-1")
    return [(s["name"], s["duration_seconds"], s["outcome"], s["exited_at"] is not None) for s in timeline["states"]]


def test_states_in_order_with_their_durations_and_the_execution_times() -> None:
    history = History().add("ExecutionStarted", 0)
    history.task("StartExport", 2)
    history.add("ChoiceStateEntered", 0, name="IsExportReady").add("ChoiceStateExited", 0, name="IsExportReady")
    history.add("WaitStateEntered", 0, name="WaitForExport").add("WaitStateExited", 30, name="WaitForExport")
    history.task("RecordRunSuccess", 1.5)
    history.add("SucceedStateEntered", 0, name="RunSucceeded").add("SucceedStateExited", 0, name="RunSucceeded")
    history.add("ExecutionSucceeded", 0)
    timeline = fold_history(history.events).as_json("run-1")
    assert timeline["execution_status"] == "SUCCEEDED" and timeline["truncated"] is False
    assert timeline["started_at"] == "2026-11-20T09:00:00.000+00:00"
    assert timeline["stopped_at"] == history.at.isoformat(timespec="milliseconds")
    assert entries(history) == [
        ("StartExport", 2.0, "succeeded", True),
        ("IsExportReady", 0.0, "succeeded", True),
        ("WaitForExport", 30.0, "succeeded", True),
        ("RecordRunSuccess", 1.5, "succeeded", True),
        ("RunSucceeded", 0.0, "succeeded", True),
    ]


def test_a_retried_task_that_succeeds_succeeded_and_a_caught_error_failed() -> None:
    history = History().add("ExecutionStarted", 0)
    history.task("CheckExport", 1, "LambdaFunctionFailed", "LambdaFunctionSucceeded")  # Retry, then fine
    history.task("PrepareDataset", 4, "LambdaFunctionFailed")  # caught: the state exits to its Catch
    history.task("RecordRunFailure", 1)
    history.add("FailStateEntered", 0, name="RunFailed").add("ExecutionFailed", 0, error="DatasetTooSmall")
    assert entries(history) == [
        ("CheckExport", 2.0, "succeeded", True),
        ("PrepareDataset", 4.0, "failed", True),
        ("RecordRunFailure", 1.0, "succeeded", True),
        ("RunFailed", 0.0, "failed", True),  # a Fail state ends the execution: it ends there, failed
    ]
    assert fold_history(history.events).execution_status == "FAILED"


def test_a_caught_error_without_an_exit_event_ends_where_the_next_state_begins() -> None:
    history = History().add("ExecutionStarted", 0)
    history.add("TaskStateEntered", name="StartFineTune").add("TaskFailed", 3)
    history.task("RecordRunFailure", 1)
    assert entries(history)[0] == ("StartFineTune", 4.0, "failed", True)


def test_a_map_is_one_state_its_iterations_are_not_listed() -> None:
    history = History().add("ExecutionStarted", 0)
    history.add("MapStateEntered", 0, name="EvaluateChunks").add("MapStateStarted", 0)
    for _ in range(3):
        history.add("MapIterationStarted", 0)
        history.task("EvaluateChunk", 2)
        history.add("MapIterationSucceeded", 0)
    history.add("MapStateSucceeded", 0).add("MapStateExited", 0, name="EvaluateChunks")
    history.task("AggregateEvaluation", 1)
    assert entries(history) == [
        ("EvaluateChunks", 9.0, "succeeded", True),
        ("AggregateEvaluation", 1.0, "succeeded", True),
    ]


def test_a_failed_map_failed() -> None:
    history = History().add("ExecutionStarted", 0)
    history.add("MapStateEntered", 0, name="EvaluateChunks").add("MapStateStarted", 0)
    history.add("MapIterationStarted", 0).task("EvaluateChunk", 1, "LambdaFunctionFailed")
    history.add("MapIterationFailed", 0).add("MapStateFailed", 0).add("MapStateExited", 0, name="EvaluateChunks")
    assert entries(history) == [("EvaluateChunks", 2.0, "failed", True)]


def test_the_state_a_running_execution_is_in_is_running() -> None:
    history = History().add("ExecutionStarted", 0)
    history.task("StartFineTune", 1)
    history.add("TaskStateEntered", name="AwaitFineTune").add("TaskScheduled", 0)
    timeline = fold_history(history.events).as_json("run-1")
    assert timeline["execution_status"] == "RUNNING" and timeline["stopped_at"] is None
    assert timeline["states"][-1] == {
        "name": "AwaitFineTune",
        "entered_at": history.events[-2]["timestamp"].isoformat(timespec="milliseconds"),
        "exited_at": None,
        "duration_seconds": None,
        "outcome": "running",
    }


def test_a_stopped_execution_ends_its_open_state_failed_at_the_stop() -> None:
    history = History().add("ExecutionStarted", 0)
    history.add("WaitStateEntered", 0, name="WaitForExport")
    history.add("ExecutionAborted", 12, executionAbortedEventDetails={"error": "Cancelled"})
    timeline = fold_history(history.events).as_json("run-1")
    assert timeline["execution_status"] == "ABORTED"
    assert timeline["states"] == [
        {
            "name": "WaitForExport",
            "entered_at": "2026-11-20T09:00:00.000+00:00",
            "exited_at": "2026-11-20T09:00:12.000+00:00",
            "duration_seconds": 12.0,
            "outcome": "failed",
        }
    ]


def test_a_truncated_history_takes_the_executions_word_for_its_status_and_times() -> None:
    history = History().add("ExecutionStarted", 0)
    history.add("TaskStateEntered", name="AggregateEvaluation")
    stopped = T0 + timedelta(hours=1)
    execution = {"status": "SUCCEEDED", "start_date": T0, "stop_date": stopped}
    timeline = fold_history(history.events, truncated=True, execution=execution).as_json("run-1")
    assert (timeline["execution_status"], timeline["truncated"]) == ("SUCCEEDED", True)
    assert timeline["stopped_at"] == "2026-11-20T10:00:00.000+00:00"
    assert timeline["states"][0]["exited_at"] is None and timeline["states"][0]["outcome"] == "succeeded"


def test_durations_are_never_negative_and_naive_times_are_utc() -> None:
    naive = datetime(2026, 11, 20, 9, 0, 5)
    events = [
        {"type": "ExecutionStarted", "timestamp": naive},
        {"type": "PassStateEntered", "timestamp": naive, "stateEnteredEventDetails": {"name": "P"}},
        {
            "type": "PassStateExited",
            "timestamp": naive - timedelta(seconds=1),
            "stateExitedEventDetails": {"name": "P"},
        },
    ]
    (state,) = fold_history(events).as_json("run-1")["states"]
    assert state["duration_seconds"] == 0.0 and state["entered_at"] == "2026-11-20T09:00:05.000+00:00"


def test_no_execution_no_states() -> None:
    assert fold_history([]).as_json("run-1") == {
        "run_id": "run-1",
        "execution_status": None,
        "started_at": None,
        "stopped_at": None,
        "states": [],
        "truncated": False,
    }
