"""PredictionsSink over the Labelbox SDK: a model run per labeltune run, the tuned answers imported into it.

Idempotent by name, so a retried publish creates nothing twice: the model is found by name (and must be on
the project's ontology), the model run by the run's name, each import by its batch name (an import found is
waited for and read, never sent again). Predictions are plain NDJSON dicts (no `labelbox[data]` needed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from labeltune.adapters.labelbox_export import _is_transient
from labeltune.domain.predictions import (
    BatchOutcome,
    Prediction,
    PredictionsTarget,
    ReviewOutcome,
    choose_classification,
    prediction_line,
    prediction_uuid,
    top_level_classifications,
)
from labeltune.errors import ConfigurationError, PredictionsFailed, TransientError

logger = logging.getLogger(__name__)

IMPORT_TIMEOUT_SECONDS = 300.0  # each wait (rows into the model run, then the import); longer: TransientError
POLL_SECONDS = 10.0
MAX_MESSAGES = 5  # error messages kept per import (the count covers all)
MAX_MESSAGE_CHARS = 300
REVIEW_PRIORITY = 5  # Labelbox's lowest batch priority: review work does not jump the labelling queue


def _value(status: Any) -> str:
    """An SDK enum or string status as upper-case text (AnnotationImportState, Task.status)."""
    return str(getattr(status, "value", status) or "").strip().upper()


@contextmanager
def _sdk_errors(action: str, name: str) -> Iterator[None]:
    """Temporary failures (rate limits, 5xx, timeouts, connections, an SDK wait that timed out) as
    TransientError; names and ids only in the message."""
    try:
        yield
    except (TransientError, ConfigurationError, PredictionsFailed):
        raise
    except Exception as error:
        if isinstance(error, TimeoutError) or _is_transient(error):
            raise TransientError(f"Labelbox {action} {name}: {type(error).__name__}") from error
        raise


def _redacted(message: str, answers: Sequence[str]) -> str:
    """Labelbox's message without any answer text it may quote (answers are chat-derived), shortened."""
    for answer in answers:
        if answer and answer in message:
            message = message.replace(answer, "[prediction]")
    return message[:MAX_MESSAGE_CHARS]


class LabelboxPredictions:
    """PredictionsSink over the Labelbox SDK. The client is built on first use (the SDK is heavy)."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        client: Any | None = None,
        import_type: Any | None = None,
        import_timeout_seconds: float = IMPORT_TIMEOUT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None and not api_key:
            raise ValueError("LabelboxPredictions needs an API key or a client")
        self._api_key = api_key
        self._client = client
        self._import_type = import_type
        self._timeout = import_timeout_seconds
        self._poll = poll_seconds
        self._sleep = sleep
        self._clock = clock
        self._model_runs: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import labelbox  # imported lazily: only the predictions step needs it

            self._client = labelbox.Client(api_key=self._api_key)
        return self._client

    @property
    def import_type(self) -> Any:
        """The SDK's model-run prediction import class (found again by name on a retry)."""
        if self._import_type is None:
            from labelbox.schema.annotation_import import MEAPredictionImport

            self._import_type = MEAPredictionImport
        return self._import_type

    # ----------------------------------------------------------------------------------------------
    # the model run

    def open_model_run(
        self, project_id: str, model_name: str, run_name: str, classification: str | None
    ) -> PredictionsTarget:
        with _sdk_errors("model run for project", project_id):
            ontology = self.client.get_project(project_id).ontology()
            if ontology is None:
                raise ConfigurationError(f"Labelbox project {project_id} has no ontology for predictions")
            choice = choose_classification(top_level_classifications(ontology.normalized), classification)
            if choice.classification is None:
                raise ConfigurationError(f"predictions for project {project_id}: {choice.problem}")
            model = self._model(model_name, str(ontology.uid))
            model_run = self._model_run(model, run_name)
        target = PredictionsTarget(
            run_name=run_name,
            model_id=str(model.uid),
            model_run_id=str(model_run.uid),
            classification_name=choice.classification.name,
            feature_schema_id=choice.classification.feature_schema_id,
        )
        self._model_runs[target.model_run_id] = model_run
        logger.info(
            "labelbox model run ready",
            extra={"project_id": project_id, "model_id": target.model_id, "model_run_id": target.model_run_id},
        )
        return target

    def _model(self, name: str, ontology_id: str) -> Any:
        from labelbox import Model

        found = [model for model in self.client.get_models(where=Model.name == name) if model.name == name]
        if not found:
            return self.client.create_model(name=name, ontology_id=ontology_id)
        model = found[0]
        if str(model.ontology_id) != ontology_id:
            raise ConfigurationError(
                f"Labelbox model {name!r} is on another ontology than the project's: "
                "set predictions.model_name to a new name"
            )
        return model

    @staticmethod
    def _model_run(model: Any, name: str) -> Any:
        existing = next((run for run in model.model_runs() if run.name == name), None)
        return existing if existing is not None else model.create_model_run(name)

    def _run(self, model_run_id: str) -> Any:
        if model_run_id not in self._model_runs:
            self._model_runs[model_run_id] = self.client.get_model_run(model_run_id)
        return self._model_runs[model_run_id]

    # ----------------------------------------------------------------------------------------------
    # predictions

    def upload(self, target: PredictionsTarget, batch_name: str, predictions: list[Prediction]) -> BatchOutcome:
        if not predictions:
            return BatchOutcome(uploaded=0)
        run_id = target.model_run_id
        with _sdk_errors("predictions import", batch_name):
            job = self._existing_import(run_id, batch_name)
            if job is None:
                model_run = self._run(run_id)
                try:
                    model_run.upsert_data_rows(
                        data_row_ids=[p.data_row_id for p in predictions], timeout_seconds=self._timeout
                    )
                except TimeoutError:
                    raise
                except Exception as error:
                    if _is_transient(error):
                        raise
                    raise PredictionsFailed(
                        f"Labelbox did not add the rows of {batch_name} to model run {run_id}: {type(error).__name__}"
                    ) from error
                lines = [prediction_line(target.run_name, target.classification_name, p) for p in predictions]
                job = model_run.add_predictions(batch_name, predictions=lines)
            self._wait(job, batch_name)
            return self._outcome(job, target, predictions)

    def _existing_import(self, model_run_id: str, name: str) -> Any | None:
        """The import an earlier attempt started under this name, if any."""
        from lbox.exceptions import ResourceNotFoundError

        try:
            found = self.import_type.from_name(self.client, model_run_id, name, as_json=True)
        except ResourceNotFoundError:
            return None
        return self.import_type(self.client, found) if found else None

    def _wait(self, job: Any, name: str) -> None:
        deadline = self._clock() + self._timeout
        while _value(job.state) == "RUNNING":
            if self._clock() >= deadline:
                raise TransientError(f"Labelbox predictions import {name} still running after {self._timeout:.0f} s")
            self._sleep(self._poll)
            job.refresh()

    @staticmethod
    def _outcome(job: Any, target: PredictionsTarget, predictions: Sequence[Prediction]) -> BatchOutcome:
        if _value(job.state) == "FAILED":
            ids = tuple(p.data_row_id for p in predictions)
            return BatchOutcome(uploaded=0, failed_data_row_ids=ids, messages=("the import failed as a whole",))
        by_uuid = {prediction_uuid(target.run_name, p.data_row_id): p.data_row_id for p in predictions}
        answers = [p.answer for p in predictions]
        failed: dict[str, None] = {}
        messages: list[str] = []
        for row in job.errors or []:
            data_row = row.get("dataRow") or {}
            data_row_id = str(data_row.get("id") or by_uuid.get(row.get("uuid"), "") or "?")
            failed[data_row_id] = None
            for error in row.get("errors") or []:
                if len(messages) < MAX_MESSAGES:
                    text = _redacted(str(error.get("message") or ""), answers)
                    messages.append(f"{data_row_id}: {error.get('name') or 'error'}: {text}")
        uploaded = len(predictions) - len(failed)
        return BatchOutcome(uploaded=max(uploaded, 0), failed_data_row_ids=tuple(failed), messages=tuple(messages))

    # ----------------------------------------------------------------------------------------------
    # review

    def send_to_review(
        self, target: PredictionsTarget, review_project_id: str, batch_name: str, data_row_ids: list[str]
    ) -> ReviewOutcome:
        if not data_row_ids:
            return ReviewOutcome(sent=0)
        from labelbox.schema.conflict_resolution_strategy import ConflictResolutionStrategy
        from labelbox.schema.identifiables import DataRowIds

        with _sdk_errors("send to review project", review_project_id):
            project = self.client.get_project(review_project_id)
            params = {
                "predictions_ontology_mapping": self._review_mapping(project, target),
                "exclude_data_rows_in_project": True,  # a retry, or a row already there, is not sent twice
                "override_existing_annotations_rule": ConflictResolutionStrategy.KeepExisting,
                "batch_priority": REVIEW_PRIORITY,
            }
            task = self._run(target.model_run_id).send_to_annotate_from_model(
                destination_project_id=review_project_id,
                task_queue_id=self._labelling_queue(project, review_project_id),
                batch_name=batch_name,
                data_rows=DataRowIds(list(data_row_ids)),
                params=params,
            )
            task.wait_till_done(timeout_seconds=self._timeout, check_frequency=max(2.0, self._poll))
            status = _value(task.status)
        if status == "FAILED":
            logger.warning("labelbox send to review failed", extra={"review_project_id": review_project_id})
            return ReviewOutcome(sent=0, error=f"sending {batch_name} to review project {review_project_id} failed")
        return ReviewOutcome(sent=len(data_row_ids))

    @staticmethod
    def _labelling_queue(project: Any, project_id: str) -> str:
        """The review project's first queue (initial labelling): without one Labelbox would file the rows as Done."""
        queues = list(project.task_queues())
        if not queues:
            raise ConfigurationError(f"review project {project_id} has no task queue to send rows to")
        initial = next((q for q in queues if "INITIAL" in _value(q.queue_type)), queues[0])
        return str(initial.uid)

    @staticmethod
    def _review_mapping(project: Any, target: PredictionsTarget) -> dict[str, str]:
        """The model run's classification onto the review project's one of the same name, so reviewers see the
        model's answer as a pre-label; none when the review ontology has no such free-text classification."""
        ontology = project.ontology()
        classes = top_level_classifications(getattr(ontology, "normalized", None))
        choice = choose_classification(classes, target.classification_name)
        wanted = choice.classification
        if target.feature_schema_id is None or wanted is None or wanted.feature_schema_id is None:
            return {}
        return {target.feature_schema_id: wanted.feature_schema_id}
