"""PrepareDataset state: the project's approved labels -> train/validation/eval JSONL in S3."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.handlers.events import PrepareDatasetEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.prepare import DatasetOptions, prepare_dataset
from labeltune.wiring import services


@lambda_entry
@event_parser(model=PrepareDatasetEvent)
def handler(event: PrepareDatasetEvent, context: Any) -> dict:
    svc = services()
    options = DatasetOptions(
        system_prompt=svc.settings.system_prompt, min_examples=svc.settings.min_examples, split=svc.settings.split
    )
    dataset = prepare_dataset(event.run_id, event.project_id, svc.label_source, svc.store, svc.runs, options)
    logger.info("dataset prepared", extra={"run_id": event.run_id, "counts": dataset.counts})
    return dataset.model_dump(mode="json")
