"""The sample events in events/ are what the handlers accept (they are also what `sam local invoke` sends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from labeltune.handlers import events

EVENTS = Path(__file__).resolve().parents[2] / "events"
MODELS: dict[str, type[BaseModel]] = {
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
