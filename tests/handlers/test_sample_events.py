"""The sample events in events/ are what the handlers accept (they are also what `sam local invoke` sends).

Each is parsed the way its handler's `event_parser` parses it: Powertools' `parse` with the handler's model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parser
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from pydantic import BaseModel, ValidationError

from labeltune.handlers import bedrock_job_events, events, execution_status

EVENTS = Path(__file__).resolve().parents[2] / "events"

# file -> (the model its handler parses with, the model the event must come out as)
MODELS: dict[str, tuple[Any, type[BaseModel]]] = {
    "export_labels_start.json": (events.ExportEvent, events.StartExportEvent),
    "export_labels_check.json": (events.ExportEvent, events.CheckExportEvent),
    "export_labels_snapshot.json": (events.ExportEvent, events.SnapshotExportEvent),
    "prepare_dataset.json": (events.PrepareDatasetEvent, events.PrepareDatasetEvent),
    "start_fine_tune.json": (events.StartFineTuneEvent, events.StartFineTuneEvent),
    "check_fine_tune.json": (events.CheckFineTuneEvent, events.CheckFineTuneEvent),
    "serve_model_start.json": (events.ServeModelEvent, events.ServeModelEvent),
    "serve_model_check.json": (events.ServeModelEvent, events.ServeModelEvent),
    "evaluate_plan.json": (events.EvaluateEvent, events.PlanEvaluationEvent),
    "evaluate_chunk.json": (events.EvaluateEvent, events.EvaluateChunkEvent),
    "evaluate_aggregate.json": (events.EvaluateEvent, events.AggregateEvaluationEvent),
    "publish_predictions.json": (events.PublishPredictionsEvent, events.PublishPredictionsEvent),
    "record_outcome.json": (execution_status.RecordOutcomeInput, events.RecordOutcomeEvent),
    "record_outcome_execution_ended.json": (
        execution_status.RecordOutcomeInput,
        execution_status.ExecutionStatusChange,
    ),
    "bedrock_job_events_completed.json": (bedrock_job_events.JobStateChange, bedrock_job_events.JobStateChange),
    "run_events_stream.json": (DynamoDBStreamModel, DynamoDBStreamModel),  # RunEventsFunction reads it with Powertools
}


def _load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def parse(event: dict[str, Any], model: Any) -> Any:
    """What `event_parser(model=...)` does before calling the handler (the models here include unions, which
    Powertools' `parse` takes but its type hints do not spell)."""
    return parser.parse(event=event, model=model)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_step_sample_event_parses_with_the_handlers_model(name: str) -> None:
    model, expected = MODELS[name]
    assert type(parse(event=_load(name), model=model)) is expected


def test_every_step_handler_has_a_sample_event() -> None:
    step_events = {p.name for p in EVENTS.glob("*.json") if not p.name.startswith("api_")}
    assert step_events == set(MODELS)


def test_a_malformed_step_event_is_rejected_before_any_work() -> None:
    with pytest.raises(ValueError):
        events.StartFineTuneEvent.model_validate({"run_id": "r", "dataset": {"train_key": "x"}})


def test_an_export_event_is_checked_against_the_model_its_action_names() -> None:
    check = _load("export_labels_check.json")
    with pytest.raises(ValidationError) as unknown:
        parse(event={**check, "action": "restart"}, model=events.ExportEvent)
    assert [e["type"] for e in unknown.value.errors()] == ["union_tag_invalid"]
    with pytest.raises(ValidationError) as incomplete:
        parse(event={k: v for k, v in check.items() if k != "task_id"}, model=events.ExportEvent)
    assert [e["loc"] for e in incomplete.value.errors()] == [("check", "task_id")]  # one model's errors, not three


def test_the_execution_status_change_is_read_with_powertools_eventbridge_model() -> None:
    event = parse(event=_load("record_outcome_execution_ended.json"), model=execution_status.RecordOutcomeInput)
    assert isinstance(event, execution_status.ExecutionStatusChange)
    assert event.detail_type == "Step Functions Execution Status Change" and event.source == "aws.states"
    assert (event.detail.name, event.detail.status) == ("run-sample-0001", "TIMED_OUT")
    assert event.detail.project_id() == "clx-support-summaries-demo"


@pytest.mark.parametrize(
    ("execution_input", "project_id"),
    [(None, None), ("{}", None), ("not json", None), ("[1]", None), ('{"project_id": "p-1"}', "p-1")],
)
def test_the_project_comes_from_the_executions_input_when_it_has_one(
    execution_input: str | None, project_id: str | None
) -> None:
    event = _load("record_outcome_execution_ended.json")
    event["detail"]["input"] = execution_input
    parsed = parse(event=event, model=execution_status.RecordOutcomeInput)
    assert isinstance(parsed, execution_status.ExecutionStatusChange)
    assert parsed.detail.project_id() == project_id


def test_an_eventbridge_event_without_the_execution_is_refused_not_read_as_a_record_state() -> None:
    event = _load("record_outcome_execution_ended.json")
    del event["detail"]["name"]
    with pytest.raises(ValidationError) as refused:
        parse(event=event, model=execution_status.RecordOutcomeInput)
    assert [e["loc"] for e in refused.value.errors()] == [("execution-status-change", "detail", "name")]
