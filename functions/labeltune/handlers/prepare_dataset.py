"""PrepareDataset state: the project's approved labels -> train/validation/eval JSONL in S3."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

# The dataset builder is this step's work: imported at cold start (pipeline.prepare imports it only when called,
# for the later steps that import PreparedDataset from there).
import labeltune.dataset  # noqa: F401
from labeltune.handlers.events import PrepareDatasetEvent
from labeltune.handlers.observability import lambda_entry, logger, metrics
from labeltune.pipeline.prepare import prepare_dataset
from labeltune.wiring import services


@lambda_entry
@event_parser(model=PrepareDatasetEvent)
def handler(event: PrepareDatasetEvent, context: Any) -> dict:
    svc = services()
    # The whole project configuration: base model (token encoding, limits, price), n_epochs, token limit too.
    dataset = prepare_dataset(event.run_id, event.project_id, event.snapshot_key, svc.store, svc.runs, event.config)
    logger.info("dataset prepared", extra={"run_id": event.run_id, "counts": dataset.counts})
    examples = sum(int(dataset.counts.get(split, 0)) for split in ("train", "validation", "eval"))
    metrics.add_metric(name="ExamplesPrepared", unit=MetricUnit.Count, value=examples)
    metrics.add_metric(name="ExamplesRejected", unit=MetricUnit.Count, value=int(dataset.counts.get("rejected", 0)))
    return dataset.model_dump(mode="json")
