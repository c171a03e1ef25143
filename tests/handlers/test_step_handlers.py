"""The export and RecordOutcome entry points: each sample event reaches the right pipeline function with the
fields its model parsed (Powertools' `event_parser`), and an event no model accepts does no work.

The pipeline functions are replaced by recorders here (they have their own tests in tests/pipeline), and so
are the services: what is checked is the handler's dispatch, through the whole Lambda entry point.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from labeltune.clock import fixed_clock
from labeltune.domain.models import RunStatus
from labeltune.handlers import export_labels, record_outcome
from labeltune_tools.embedded.lambda_runtime import LambdaContext
from tests.fakes import InMemoryObjectStore, InMemoryProjectStore, InMemoryRunStore

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLOCK = fixed_clock("2026-09-15T09:30:13+00:00")


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def _context(name: str) -> LambdaContext:
    return LambdaContext(name, 512, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", 60)


class Done(BaseModel):
    step: str


Call = tuple[str, tuple[Any, ...], dict[str, Any]]  # (pipeline function, positional arguments, keywords)


@pytest.fixture
def export_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    calls: list[Call] = []

    def recorder(step: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Done:
            calls.append((step, args, kwargs))
            return Done(step=step)

        return record

    for name in ("refuse_untrainable", "start_export", "check_export", "snapshot_export"):
        monkeypatch.setattr(export_labels, name, recorder(name))
    svc = SimpleNamespace(
        catalog="catalog", runs="runs", exports="exports", fetcher="fetcher", store="store", clock=CLOCK
    )
    monkeypatch.setattr(export_labels, "services", lambda: svc)
    return calls


def test_the_start_action_refuses_an_untrainable_model_then_starts_the_export(export_calls: list[Call]) -> None:
    event = _load("export_labels_start.json")
    assert export_labels.handler(event, _context("export")) == {"step": "start_export"}
    assert [step for step, _, _ in export_calls] == ["refuse_untrainable", "start_export"]
    refuse_args = export_calls[0][1]
    assert refuse_args[0] == "run-sample-0001" and refuse_args[1].base_model == event["config"]["base_model"]
    assert export_calls[1][1:] == (("run-sample-0001", "clx-support-summaries-demo", "exports", "runs", CLOCK), {})


def test_the_check_action_checks_the_task(export_calls: list[Call]) -> None:
    assert export_labels.handler(_load("export_labels_check.json"), _context("export")) == {"step": "check_export"}
    args = ("clx-export-task-sample", "2026-11-26T10:00:00.000+00:00", "exports", CLOCK)
    assert export_calls == [("check_export", args, {})]


def test_the_snapshot_action_snapshots_with_the_projects_error_budget(export_calls: list[Call]) -> None:
    event = _load("export_labels_snapshot.json")
    event["config"] = {**event["config"], "max_export_error_rate": 0.05}
    assert export_labels.handler(event, _context("export")) == {"step": "snapshot_export"}
    args = ("run-sample-0001", "clx-export-task-sample", "exports", "fetcher", "store", "runs")
    assert export_calls == [("snapshot_export", args, {"max_export_error_rate": 0.05})]


@pytest.mark.parametrize("action", ["restart", None])
def test_an_unknown_export_action_does_nothing(export_calls: list[Call], action: str | None) -> None:
    event = {**_load("export_labels_check.json"), "action": action}
    with pytest.raises(ValidationError):
        export_labels.handler(event, _context("export"))
    assert export_calls == []


@pytest.fixture
def outcome(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    runs = InMemoryRunStore(CLOCK)
    runs.create_run("run-sample-0001", "clx-support-summaries-demo", status=RunStatus.TRAINING.value)
    follow_ups: list[tuple[str, str]] = []

    def follow_up(run_id: str, project_id: str, trigger: Any) -> str:
        follow_ups.append((run_id, project_id))
        return "run-follow-up"

    projects = InMemoryProjectStore(CLOCK)  # a succeeded run's model is promoted on its project's record
    svc = SimpleNamespace(
        runs=runs, clock=CLOCK, fine_tuning=None, serving=None, trigger="trigger", projects=projects,
        store=InMemoryObjectStore(),  # a succeeded run that was evaluated gets its report there
    )  # fmt: skip
    monkeypatch.setattr(record_outcome, "services", lambda: svc)
    monkeypatch.setattr(record_outcome, "follow_up_run", follow_up)
    return SimpleNamespace(runs=runs, follow_ups=follow_ups)


def test_a_record_state_closes_the_run_with_its_outcome_and_starts_the_follow_up(outcome: SimpleNamespace) -> None:
    result = record_outcome.handler(_load("record_outcome.json"), _context("record"))
    assert (result["status"], result["error"], result["follow_up_run_id"]) == (
        "FAILED",
        "FineTuneFailed",
        "run-follow-up",
    )
    run = outcome.runs.get_run("run-sample-0001")
    assert (run["status"], run["error"]) == ("FAILED", "FineTuneFailed")
    assert outcome.follow_ups == [("run-sample-0001", "clx-support-summaries-demo")]


def test_a_record_state_from_before_per_project_runs_starts_no_follow_up(outcome: SimpleNamespace) -> None:
    event = {k: v for k, v in _load("record_outcome.json").items() if k != "project_id"}
    event["outcome"] = "SUCCEEDED"
    assert record_outcome.handler(event, _context("record"))["status"] == "SUCCEEDED"
    assert outcome.follow_ups == []


def test_an_execution_that_timed_out_fails_its_run_and_frees_its_project(outcome: SimpleNamespace) -> None:
    result = record_outcome.handler(_load("record_outcome_execution_ended.json"), _context("record"))
    assert (result["status"], result["error"]) == ("FAILED", "ExecutionTimedOut")
    assert outcome.runs.get_run("run-sample-0001")["error"] == "ExecutionTimedOut"
    assert outcome.follow_ups == [("run-sample-0001", "clx-support-summaries-demo")]


def test_an_execution_end_keeps_the_message_of_a_run_already_recorded(outcome: SimpleNamespace) -> None:
    outcome.runs.update_run("run-sample-0001", status="FAILED", error="DatasetTooSmall")
    event = _load("record_outcome_execution_ended.json")
    event["detail"].update(status="FAILED", error="States.TaskFailed", cause="the recorder failed")
    result = record_outcome.handler(event, _context("record"))
    assert result["status"] == "FAILED"
    assert outcome.runs.get_run("run-sample-0001")["error"] == "DatasetTooSmall"


@pytest.mark.parametrize(
    "event",
    [
        {"run_id": "run-sample-0001", "outcome": "MAYBE"},
        {"detail-type": "Step Functions Execution Status Change", "detail": {"name": "run-sample-0001"}},
        {},
    ],
)
def test_an_event_neither_model_accepts_changes_nothing(outcome: SimpleNamespace, event: dict[str, Any]) -> None:
    before = outcome.runs.get_run("run-sample-0001")
    with pytest.raises(ValidationError):
        record_outcome.handler(event, _context("record"))
    assert outcome.runs.get_run("run-sample-0001") == before
    assert outcome.follow_ups == []


class RecordingBus:
    """RunEventBus that accepts everything and keeps what it was given."""

    def __init__(self) -> None:
        self.details: list[tuple[str, dict[str, Any]]] = []

    def put(self, details: list[tuple[str, dict[str, Any]]]) -> list[bool]:
        self.details.extend(details)
        return [True] * len(details)


def test_the_sample_stream_event_becomes_one_run_status_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from labeltune.handlers import run_events

    bus = RecordingBus()
    monkeypatch.setattr(run_events, "services", lambda: SimpleNamespace(run_events=bus))
    answer = run_events.handler(_load("run_events_stream.json"), _context("RunEventsFunction"))
    assert answer == {"batchItemFailures": []}
    [(_, detail)] = bus.details
    assert (detail["run_id"], detail["previous_status"], detail["status"]) == (
        "run-sample-0001",
        "TRAINING",
        "EVALUATING",
    )
    assert detail["status_changed_at"] == "2026-09-15T11:30:20.000+00:00"
