"""PublishPredictions: the tuned model's answers on the held-out rows become a Labelbox model run, so reviewers
compare model and human summaries in Labelbox; rows scoring below the project's bound can go to a review project.

Streams `runs/<run>/evaluation/examples.jsonl` in batches of MAX_BATCH rows and records progress on the run
after each batch: a retried publish skips the batches already done, and the sink finds by name what an
interrupted batch started. Only counts, ids and Labelbox's redacted messages reach the run record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from labeltune.domain.predictions import Prediction
from labeltune.domain.project_config import ProjectConfig
from labeltune.ports import ObjectStore, PredictionsSink, RunStore

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000  # rows per import: bounded memory, and an import Labelbox finishes in minutes
MAX_ERROR_MESSAGES = 5  # kept on the run record; the count covers every error


class PublishResult(BaseModel):
    run_id: str
    published: bool
    reason: str | None = None  # why nothing was published
    model_id: str | None = None
    model_run_id: str | None = None
    uploaded: int = 0
    errors: int = 0
    error_messages: list[str] = []
    sent_to_review: int = 0
    skipped: int = 0  # held-out rows the tuned model gave no answer for
    batches: int = 0  # batches seen so far
    complete: bool = True  # False: stopped early (`should_stop`); publishing again carries on where this left off


def predictions_off(run_id: str) -> PublishResult:
    """What a run of a project without predictions publishes: nothing, and it says so."""
    return PublishResult(run_id=run_id, published=False, reason="predictions are off for this project")


def examples_key(run_id: str) -> str:
    return f"runs/{run_id}/evaluation/examples.jsonl"


def tuned_predictions(lines: Iterator[str], counts: dict[str, int]) -> Iterator[Prediction]:
    """The tuned model's answers, in file order; rows without one are counted in counts["skipped"]."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"evaluation examples line {number} is not JSON") from None
        if not isinstance(record, dict) or record.get("role") != "tuned":
            continue
        output, data_row_id = record.get("output"), record.get("data_row_id")
        if not isinstance(output, str) or not output.strip() or not isinstance(data_row_id, str) or not data_row_id:
            counts["skipped"] += 1
            continue
        rouge_l = record.get("rouge_l")
        score = float(rouge_l) if isinstance(rouge_l, int | float) and not isinstance(rouge_l, bool) else 0.0
        yield Prediction(data_row_id=data_row_id, answer=output, rouge_l=score)


def _batches(predictions: Iterator[Prediction], size: int) -> Iterator[list[Prediction]]:
    batch: list[Prediction] = []
    for prediction in predictions:
        batch.append(prediction)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _progress(record: dict[str, Any], model_run_id: str) -> tuple[int, PublishResult]:
    """Batches already done by an earlier attempt on the same model run, and their totals."""
    result = PublishResult(run_id=str(record["run_id"]), published=True)
    if record.get("predictions_model_run_id") != model_run_id:
        return 0, result
    result.uploaded = int(record.get("predictions_uploaded") or 0)
    result.errors = int(record.get("predictions_errors") or 0)
    result.error_messages = list(record.get("predictions_error_messages") or [])
    result.sent_to_review = int(record.get("predictions_sent_to_review") or 0)
    return int(record.get("predictions_batches_done") or 0), result


def publish_predictions(
    run_id: str,
    project_id: str,
    config: ProjectConfig,
    store: ObjectStore,
    sink: PredictionsSink,
    runs: RunStore,
    batch_size: int = MAX_BATCH,
    should_stop: Callable[[], bool] | None = None,
) -> PublishResult:
    """Publish the run's tuned answers to Labelbox as the model run named after the run (see the module).

    `should_stop` is asked before each batch not yet done (a Lambda running out of time): when it says so, the
    result is `complete=False` and nothing is left half done."""
    settings = config.predictions
    if not settings.enabled:
        return predictions_off(run_id)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    record = runs.get_run(run_id)
    if record is None:
        raise ValueError(f"run {run_id} does not exist")
    if not record.get("evaluation_uri"):
        raise ValueError(f"run {run_id} has no evaluation to publish yet")

    target = sink.open_model_run(
        project_id, settings.model_name_for(project_id), run_id, settings.wanted_classification(config.mapping)
    )
    done, result = _progress(record, target.model_run_id)
    result.model_id, result.model_run_id = target.model_id, target.model_run_id
    runs.update_run(
        run_id,
        predictions_model_id=target.model_id,
        predictions_model_run_id=target.model_run_id,
        predictions_status="publishing",
    )
    review_project, review_below = settings.review_project_id, settings.review_below_rouge_l
    counts = {"skipped": 0}
    predictions = tuned_predictions(store.read_lines(examples_key(run_id)), counts)
    for index, batch in enumerate(_batches(predictions, batch_size)):
        result.batches = index + 1
        if index < done:
            continue  # published by an earlier attempt
        if should_stop is not None and index > done and should_stop():  # one batch per call at least
            result.complete = False
            runs.update_run(run_id, predictions_status="partial")
            logger.info("predictions paused", extra={"run_id": run_id, "batches_done": index})
            return result
        outcome = sink.upload(target, f"{run_id}-{index:05d}", batch)
        result.uploaded += outcome.uploaded
        result.errors += outcome.failed
        result.error_messages.extend(outcome.messages[: MAX_ERROR_MESSAGES - len(result.error_messages)])
        if review_project is not None and review_below is not None:
            refused = set(outcome.failed_data_row_ids)
            low = [p.data_row_id for p in batch if p.rouge_l < review_below and p.data_row_id not in refused]
            if low:
                review = sink.send_to_review(target, review_project, f"{run_id}-review-{index:05d}", low)
                result.sent_to_review += review.sent
                if review.error and len(result.error_messages) < MAX_ERROR_MESSAGES:
                    result.error_messages.append(review.error)
        runs.update_run(
            run_id,
            predictions_batches_done=index + 1,
            predictions_uploaded=result.uploaded,
            predictions_errors=result.errors,
            predictions_error_messages=result.error_messages,
            predictions_sent_to_review=result.sent_to_review,
        )
    result.skipped = counts["skipped"]
    runs.update_run(
        run_id,
        predictions_status="published",
        predictions_uploaded=result.uploaded,
        predictions_errors=result.errors,
        predictions_sent_to_review=result.sent_to_review,
        predictions_skipped=result.skipped,
    )
    logger.info(
        "predictions published",
        extra={
            "run_id": run_id,
            "model_run_id": target.model_run_id,
            "uploaded": result.uploaded,
            "errors": result.errors,
            "sent_to_review": result.sent_to_review,
            "skipped": result.skipped,
        },
    )
    return result
