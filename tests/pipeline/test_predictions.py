"""PublishPredictions on fakes: the tuned answers of an evaluated run go to one model run, in bounded batches,
once each however often the step is retried; Labelbox's refusals and the rows sent for review are recorded on
the run as counts and redacted messages, never as answer text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from labeltune.domain.conversion import FieldMapping
from labeltune.domain.predictions import Classification, PredictionsConfig
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import ConfigurationError, TransientError
from labeltune.pipeline.predictions import examples_key, publish_predictions
from tests.fakes import InMemoryObjectStore, InMemoryRunStore, RecordingPredictionsSink

RUN = "run-0123456789abcdef01234567"
PROJECT = "clproject0001"
SUMMARY = Classification("summary", "fs-summary", "text")
QUALITY = Classification("quality", "fs-quality", "radio")


def _examples(count: int, *, missing: tuple[int, ...] = (), scores: dict[int, float] | None = None) -> list[str]:
    """examples.jsonl as the evaluation writes it: a base and a tuned line per held-out row."""
    lines = []
    for n in range(count):
        row = f"row-{n:04d}"
        tuned_output = None if n in missing else f"Tuned summary {n} for Jane Doe"
        rouge = (scores or {}).get(n, 0.9)
        for role, output in (("base", f"Base summary {n}"), ("tuned", tuned_output)):
            record = {
                "role": role,
                "output": output,
                "data_row_id": row,
                "model": f"{role}-model",
                "rouge_l": rouge if output else 0.0,
                "leaks": {},
                "error": None if output else "BadRequestError",
            }
            lines.append(json.dumps(record))
    return lines


def _config(**predictions: Any) -> ProjectConfig:
    return ProjectConfig(predictions=PredictionsConfig(enabled=True, **predictions))


@pytest.fixture
def runs() -> InMemoryRunStore:
    store = InMemoryRunStore()
    store.create_run(RUN, PROJECT, status="EVALUATING", evaluation_uri=f"s3://b/{examples_key(RUN)}")
    return store


@pytest.fixture
def store() -> InMemoryObjectStore:
    objects = InMemoryObjectStore()
    objects.put_lines(examples_key(RUN), _examples(5, missing=(3,)))
    return objects


@pytest.fixture
def sink() -> RecordingPredictionsSink:
    return RecordingPredictionsSink(ontology=[QUALITY, SUMMARY])


def test_off_by_default_nothing_is_asked_of_labelbox(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    result = publish_predictions(RUN, PROJECT, ProjectConfig(), store, sink, runs)
    assert (result.published, result.reason) == (False, "predictions are off for this project")
    assert sink.models == {} and sink.imports == {}
    run = runs.get_run(RUN)
    assert run is not None and not any(key.startswith("predictions_") for key in run)


def test_the_tuned_answers_go_to_the_runs_model_run_and_are_recorded(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    result = publish_predictions(RUN, PROJECT, _config(), store, sink, runs)
    assert sink.models == {f"labeltune-{PROJECT}": "model-1"}
    assert sink.model_runs == {("model-1", RUN): "model-run-1"}
    assert sink.uploaded_rows == ["row-0000", "row-0001", "row-0002", "row-0004"]  # row 3: no tuned answer
    sent = sink.imports[f"{RUN}-00000"]
    assert sent[0].answer == "Tuned summary 0 for Jane Doe" and sent[0].rouge_l == 0.9
    assert (result.uploaded, result.errors, result.skipped, result.complete) == (4, 0, 1, True)
    run = runs.get_run(RUN)
    assert run is not None
    assert run["predictions_model_run_id"] == "model-run-1" and run["predictions_model_id"] == "model-1"
    assert (run["predictions_uploaded"], run["predictions_errors"], run["predictions_skipped"]) == (4, 0, 1)
    assert run["predictions_status"] == "published" and run["predictions_sent_to_review"] == 0
    assert "Jane" not in json.dumps(run)  # answers are chat-derived: never on the run record


def test_predictions_go_in_bounded_batches(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    store.put_lines(examples_key(RUN), _examples(7))
    result = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3)
    assert {name: len(batch) for name, batch in sink.imports.items()} == {
        f"{RUN}-00000": 3,
        f"{RUN}-00001": 3,
        f"{RUN}-00002": 1,
    }
    assert (result.batches, result.uploaded) == (3, 7)
    run = runs.get_run(RUN)
    assert run is not None and run["predictions_batches_done"] == 3


def test_a_retry_after_an_import_still_running_creates_nothing_twice(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    store.put_lines(examples_key(RUN), _examples(7))
    sink.running.add(f"{RUN}-00001")
    with pytest.raises(TransientError):
        publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3)
    run = runs.get_run(RUN)
    assert run is not None and (run["predictions_batches_done"], run["predictions_uploaded"]) == (1, 3)
    sink.imports[f"{RUN}-00000"] = []  # a retry that sent the first batch again would be seen as 0 uploaded
    result = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3)
    assert len(sink.models) == 1 and len(sink.model_runs) == 1
    assert (result.uploaded, result.batches) == (7, 3)
    assert runs.get_run(RUN)["predictions_uploaded"] == 7


def test_labelboxs_refusals_are_counted_with_the_first_few_messages(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    store.put_lines(examples_key(RUN), _examples(12))
    sink.refuse.update(f"row-{n:04d}" for n in range(8))
    result = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=4)
    assert (result.uploaded, result.errors) == (4, 8)
    run = runs.get_run(RUN)
    assert run is not None and run["predictions_errors"] == 8
    assert run["predictions_error_messages"] == [f"row-{n:04d}: DataRowNotFound: no such data row" for n in range(5)]


def test_rows_below_the_bound_are_sent_for_review_unless_labelbox_refused_them(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    store.put_lines(examples_key(RUN), _examples(6, missing=(5,), scores={0: 0.1, 2: 0.29, 3: 0.3, 4: 0.05}))
    sink.refuse.add("row-0004")
    config = _config(review_project_id="clreview0001", review_below_rouge_l=0.3)
    result = publish_predictions(RUN, PROJECT, config, store, sink, runs, batch_size=3)
    assert sink.reviews == [("clreview0001", f"{RUN}-review-00000", ["row-0000", "row-0002"])]
    assert result.sent_to_review == 2
    assert runs.get_run(RUN)["predictions_sent_to_review"] == 2


def test_the_classification_is_the_mapped_response_unless_one_is_configured(
    store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    notes = Classification("notes", "fs-notes", "text")
    sink = RecordingPredictionsSink(ontology=[SUMMARY, notes])
    with pytest.raises(ConfigurationError, match="several free-text classifications"):
        publish_predictions(RUN, PROJECT, _config(), store, sink, runs)
    mapped = ProjectConfig(
        mapping=FieldMapping(response_classification="fs-summary"), predictions=PredictionsConfig(enabled=True)
    )
    publish_predictions(RUN, PROJECT, mapped, store, sink, runs)
    assert sink.imports  # resolved to "summary" by its feature schema id
    chosen = sink.open_model_run(PROJECT, "m", RUN, _config(classification="notes").predictions.classification)
    assert chosen.classification_name == "notes"


def test_a_run_that_is_not_evaluated_yet_is_refused(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    runs.create_run("run-other", PROJECT, status="TRAINING")
    with pytest.raises(ValueError, match="no evaluation"):
        publish_predictions("run-other", PROJECT, _config(), store, sink, runs)
    with pytest.raises(ValueError, match="does not exist"):
        publish_predictions("run-missing", PROJECT, _config(), store, sink, runs)
    assert sink.models == {}


def test_a_short_of_time_publish_stops_between_batches_and_carries_on(
    store: InMemoryObjectStore, sink: RecordingPredictionsSink, runs: InMemoryRunStore
) -> None:
    store.put_lines(examples_key(RUN), _examples(7))
    first = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3, should_stop=lambda: True)
    assert (first.complete, first.uploaded, list(sink.imports)) == (False, 3, [f"{RUN}-00000"])
    assert runs.get_run(RUN)["predictions_status"] == "partial"
    second = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3, should_stop=lambda: True)
    third = publish_predictions(RUN, PROJECT, _config(), store, sink, runs, batch_size=3, should_stop=lambda: True)
    assert (second.complete, third.complete, third.uploaded) == (False, True, 7)


def test_the_configuration_refuses_half_a_review_setting() -> None:
    with pytest.raises(ValidationError, match="review_project_id and review_below_rouge_l"):
        PredictionsConfig(enabled=True, review_below_rouge_l=0.2)
    with pytest.raises(ValidationError):
        PredictionsConfig(review_project_id="clreview0001", review_below_rouge_l=1.5)
    assert PredictionsConfig().model_name_for(PROJECT) == f"labeltune-{PROJECT}"
    assert ProjectConfig.model_validate({"predictions": {"enabled": True}}).predictions.enabled
