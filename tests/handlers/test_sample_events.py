"""The sample events in events/ are what the handlers accept (they are also what `sam local invoke` sends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from labeltune.handlers import events

EVENTS = Path(__file__).resolve().parents[2] / "events"


class _ExportStep(BaseModel):
    """The export function's event is one of three actions (ExportEvent wraps it as `step`)."""

    @classmethod
    def model_validate(cls, obj: object, **kwargs: object) -> BaseModel:  # type: ignore[override]
        return events.ExportEvent.model_validate({"step": obj})


MODELS: dict[str, type[BaseModel]] = {
    "export_labels_start.json": _ExportStep,
    "export_labels_check.json": _ExportStep,
    "export_labels_snapshot.json": _ExportStep,
    "prepare_dataset.json": events.PrepareDatasetEvent,
    "start_fine_tune.json": events.StartFineTuneEvent,
    "check_fine_tune.json": events.CheckFineTuneEvent,
    "evaluate.json": events.EvaluateEvent,
    "record_outcome.json": events.RecordOutcomeEvent,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_step_sample_event_parses_with_the_handlers_model(name: str) -> None:
    MODELS[name].model_validate(json.loads((EVENTS / name).read_text()))


def test_every_step_handler_has_a_sample_event() -> None:
    step_events = {p.name for p in EVENTS.glob("*.json") if not p.name.startswith("api_")}
    assert step_events == set(MODELS)


def test_a_malformed_step_event_is_rejected_before_any_work() -> None:
    with pytest.raises(ValueError):
        events.StartFineTuneEvent.model_validate({"run_id": "r", "dataset": {"train_key": "x"}})
