"""LabelboxPredictions against autospecced classes of the installed Labelbox SDK (Client, Project, Ontology,
Model, ModelRun, MEAPredictionImport, Task, TaskQueue): a misspelled method or a wrong argument fails here as
it would in production. Idempotency (found by name before created), bounded waits, errors redacted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import create_autospec

import labelbox
import pytest
import requests
from labelbox.schema.annotation_import import MEAPredictionImport
from labelbox.schema.enums import AnnotationImportState
from labelbox.schema.identifiables import DataRowIds
from labelbox.schema.task import Task
from labelbox.schema.task_queue import TaskQueue
from lbox import exceptions as lbox_errors

from labeltune.adapters.labelbox_predictions import LabelboxPredictions
from labeltune.domain.predictions import Prediction, PredictionsTarget, prediction_uuid
from labeltune.errors import ConfigurationError, PredictionsFailed, TransientError
from tests.adapters import labelbox_doubles as lb

PROJECT = "clproject0001"
RUN = "run-0123456789abcdef01234567"
MODEL_NAME = f"labeltune-{PROJECT}"
ONTOLOGY_ID = "clontology0001"
TARGET = PredictionsTarget(RUN, "clmodel0001", "clmodelrun0001", "summary", "fs-summary")
PREDICTIONS = [
    Prediction("row-1", "The customer Jane Doe asks about a late order.", 0.4),
    Prediction("row-2", "A refund is promised.", 0.8),
]


class Clock:
    """A monotonic clock the adapter's sleeps move forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def model(uid: str = "clmodel0001", name: str = MODEL_NAME, ontology_id: str = ONTOLOGY_ID, runs: Any = ()) -> Any:
    double = create_autospec(labelbox.Model, instance=True, spec_set=True)
    double.uid, double.name, double.ontology_id = uid, name, ontology_id
    double.model_runs = lb.relationship(list(runs))
    return double


def model_run(uid: str = "clmodelrun0001", name: str = RUN) -> Any:
    double = create_autospec(labelbox.ModelRun, instance=True, spec_set=True)
    double.uid, double.name = uid, name
    return double


def prediction_import(states: Iterator[str], errors: list[dict[str, Any]] | None = None) -> Any:
    """An import whose state moves on at each refresh."""
    job = create_autospec(MEAPredictionImport, instance=True, spec_set=True)
    job.state = AnnotationImportState(next(states))
    job.errors = errors or []

    def refresh() -> None:
        job.state = AnnotationImportState(next(states))

    job.refresh.side_effect = refresh
    return job


def import_type(found: dict[str, Any] | None = None) -> Any:
    """The MEAPredictionImport class: `from_name` finds nothing (by default) or the `found` import."""
    cls = create_autospec(MEAPredictionImport, spec_set=True)
    if found is None:
        cls.from_name.side_effect = lbox_errors.ResourceNotFoundError(message="no such import")
    else:
        cls.from_name.return_value = found
    return cls


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client() -> Any:
    double = lb.client()
    project = lb.project(PROJECT, classifications=lb.TEXT_ONTOLOGY)
    project.ontology.return_value.uid = ONTOLOGY_ID
    double.get_project.return_value = project
    return double


def adapter(client: Any, clock: Clock, imports: Any | None = None) -> LabelboxPredictions:
    return LabelboxPredictions(
        client=client,
        import_type=imports if imports is not None else import_type(),
        import_timeout_seconds=60,
        poll_seconds=10,
        sleep=clock.sleep,
        clock=clock,
    )


# ------------------------------------------------------------------------------------------------------
# the model run


def test_a_first_publish_creates_the_model_on_the_projects_ontology_and_the_runs_model_run(
    client: Any, clock: Clock
) -> None:
    created = model()
    client.get_models.return_value = []
    client.create_model.return_value = created
    created.create_model_run.return_value = model_run()
    target = adapter(client, clock).open_model_run(PROJECT, MODEL_NAME, RUN, None)
    client.create_model.assert_called_once_with(name=MODEL_NAME, ontology_id=ONTOLOGY_ID)
    created.create_model_run.assert_called_once_with(RUN)
    assert target == PredictionsTarget(RUN, "clmodel0001", "clmodelrun0001", "summary", "fs-summary")


def test_a_retried_publish_finds_the_model_and_model_run_by_name(client: Any, clock: Clock) -> None:
    existing = model(runs=[model_run("clmodelrun0000", "run-earlier"), model_run()])
    client.get_models.return_value = [model("clmodel0000", f"{MODEL_NAME}-old"), existing]
    target = adapter(client, clock).open_model_run(PROJECT, MODEL_NAME, RUN, "fs-summary")
    client.create_model.assert_not_called()
    existing.create_model_run.assert_not_called()
    assert (target.model_id, target.model_run_id, target.classification_name) == (
        "clmodel0001",
        "clmodelrun0001",
        "summary",
    )


def test_a_model_of_that_name_on_another_ontology_is_refused(client: Any, clock: Clock) -> None:
    client.get_models.return_value = [model(ontology_id="clontology-other")]
    with pytest.raises(ConfigurationError, match="another ontology"):
        adapter(client, clock).open_model_run(PROJECT, MODEL_NAME, RUN, None)


@pytest.mark.parametrize(
    ("classifications", "wanted", "problem"),
    [
        (lb.TEXT_ONTOLOGY, "quality", "radio classification, not free text"),
        (lb.TEXT_ONTOLOGY, "missing", "not in the project's ontology"),
        (lb.LEGACY_ONTOLOGY, None, "no free-text classification"),
    ],
    ids=["not-free-text", "unknown", "prompt-response-project"],
)
def test_an_ontology_without_the_classification_is_refused_before_anything_is_created(
    client: Any, clock: Clock, classifications: list[dict[str, Any]], wanted: str | None, problem: str
) -> None:
    client.get_project.return_value = lb.project(PROJECT, classifications=classifications)
    with pytest.raises(ConfigurationError, match=problem):
        adapter(client, clock).open_model_run(PROJECT, MODEL_NAME, RUN, wanted)
    client.create_model.assert_not_called()


def test_a_rate_limit_is_transient(client: Any, clock: Clock) -> None:
    client.get_project.side_effect = lbox_errors.ApiLimitError("slow down")
    with pytest.raises(TransientError, match="ApiLimitError"):
        adapter(client, clock).open_model_run(PROJECT, MODEL_NAME, RUN, None)


# ------------------------------------------------------------------------------------------------------
# predictions


def test_the_rows_are_added_then_their_predictions_imported_and_waited_for(client: Any, clock: Clock) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    job = prediction_import(iter(["RUNNING", "RUNNING", "FINISHED"]))
    run.add_predictions.return_value = job
    outcome = adapter(client, clock).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    run.upsert_data_rows.assert_called_once_with(data_row_ids=["row-1", "row-2"], timeout_seconds=60)
    name, lines = run.add_predictions.call_args.args[0], run.add_predictions.call_args.kwargs["predictions"]
    assert name == f"{RUN}-00000"
    assert lines[0] == {
        "uuid": prediction_uuid(RUN, "row-1"),
        "name": "summary",
        "answer": PREDICTIONS[0].answer,
        "dataRow": {"id": "row-1"},
    }
    MEAPredictionImport._get_ndjson_from_objects(lines, "annotations")  # the SDK's own check of the lines
    assert clock.sleeps == [10, 10]
    assert (outcome.uploaded, outcome.failed) == (2, 0)


def test_refused_rows_are_counted_and_their_messages_kept_without_the_answer(client: Any, clock: Clock) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    answer = PREDICTIONS[0].answer
    errors = [
        {
            "uuid": prediction_uuid(RUN, "row-1"),
            "dataRow": {"id": "row-1"},
            "status": "FAILURE",
            "errors": [
                {"name": "ValidationError", "message": f"answer {answer!r} is too long", "additional_info": answer}
            ],
        }
    ]
    run.add_predictions.return_value = prediction_import(iter(["FINISHED"]), errors)
    outcome = adapter(client, clock).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    assert (outcome.uploaded, outcome.failed_data_row_ids) == (1, ("row-1",))
    assert outcome.messages == ("row-1: ValidationError: answer '[prediction]' is too long",)
    assert "Jane" not in repr(outcome)


def test_an_import_found_by_name_is_waited_for_and_read_not_sent_again(client: Any, clock: Clock) -> None:
    found = {"id": "climport0001", "name": f"{RUN}-00000", "state": "RUNNING"}
    imports = import_type(found)
    imports.return_value = prediction_import(iter(["RUNNING", "FINISHED"]))
    outcome = adapter(client, clock, imports).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    imports.from_name.assert_called_once_with(client, "clmodelrun0001", f"{RUN}-00000", as_json=True)
    imports.assert_called_once_with(client, found)
    client.get_model_run.assert_not_called()  # no upsert, no second import
    assert outcome.uploaded == 2


def test_an_import_still_running_after_the_timeout_is_transient(client: Any, clock: Clock) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    run.add_predictions.return_value = prediction_import(iter(["RUNNING"] * 20))
    with pytest.raises(TransientError, match="still running"):
        adapter(client, clock).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    assert sum(clock.sleeps) == 60


def test_an_import_that_failed_as_a_whole_counts_every_row(client: Any, clock: Clock) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    run.add_predictions.return_value = prediction_import(iter(["FAILED"]))
    outcome = adapter(client, clock).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    assert (outcome.uploaded, outcome.failed) == (0, 2)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (TimeoutError("Unable to complete import within 60 seconds."), TransientError),
        (lbox_errors.InternalServerError("502"), TransientError),
        (requests.exceptions.ConnectionError("reset"), TransientError),
        (Exception("Job failed."), PredictionsFailed),  # what the SDK raises when Labelbox refuses the rows
    ],
    ids=["timeout", "5xx", "connection", "refused"],
)
def test_failures_adding_the_rows_are_transient_or_not(
    client: Any, clock: Clock, error: Exception, raised: type[Exception]
) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    run.upsert_data_rows.side_effect = error
    with pytest.raises(raised):
        adapter(client, clock).upload(TARGET, f"{RUN}-00000", PREDICTIONS)
    run.add_predictions.assert_not_called()


# ------------------------------------------------------------------------------------------------------
# review


def queue(uid: str, queue_type: str) -> Any:
    double = create_autospec(TaskQueue, instance=True, spec_set=True)
    double.uid, double.queue_type = uid, queue_type
    return double


def task(status: str) -> Any:
    double = create_autospec(Task, instance=True, spec_set=True)
    double.status = status
    return double


@pytest.fixture
def review(client: Any) -> Any:
    review_classes = [{**lb.TEXT_ONTOLOGY[0], "featureSchemaId": "fs-review-summary"}]
    project = lb.project("clreview0001", classifications=review_classes)
    project.task_queues.return_value = [
        queue("q-review", "MANUAL_REVIEW_QUEUE"),
        queue("q-label", "INITIAL_LABELING_QUEUE"),
    ]
    client.get_project.return_value = project
    return project


def test_low_scoring_rows_go_to_the_review_projects_labelling_queue_with_the_prediction(
    client: Any, clock: Clock, review: Any
) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    run.send_to_annotate_from_model.return_value = task("COMPLETE")
    outcome = adapter(client, clock).send_to_review(TARGET, "clreview0001", f"{RUN}-review-00000", ["row-1"])
    kwargs = run.send_to_annotate_from_model.call_args.kwargs
    assert kwargs["destination_project_id"] == "clreview0001" and kwargs["task_queue_id"] == "q-label"
    assert kwargs["batch_name"] == f"{RUN}-review-00000"
    assert isinstance(kwargs["data_rows"], DataRowIds) and list(kwargs["data_rows"]) == ["row-1"]
    assert kwargs["params"]["predictions_ontology_mapping"] == {"fs-summary": "fs-review-summary"}
    assert kwargs["params"]["exclude_data_rows_in_project"] is True
    run.send_to_annotate_from_model.return_value.wait_till_done.assert_called_once_with(
        timeout_seconds=60, check_frequency=10
    )
    assert (outcome.sent, outcome.error) == (1, None)


def test_a_failed_send_to_review_is_reported(client: Any, clock: Clock, review: Any) -> None:
    run = model_run()
    client.get_model_run.return_value = run
    run.send_to_annotate_from_model.return_value = task("FAILED")
    outcome = adapter(client, clock).send_to_review(TARGET, "clreview0001", "b", ["row-1"])
    assert outcome.sent == 0 and outcome.error is not None and "clreview0001" in outcome.error


def test_a_review_project_without_a_queue_is_refused(client: Any, clock: Clock, review: Any) -> None:
    review.task_queues.return_value = []
    with pytest.raises(ConfigurationError, match="no task queue"):
        adapter(client, clock).send_to_review(TARGET, "clreview0001", "b", ["row-1"])
