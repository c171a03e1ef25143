"""StartFineTune state: hand the JSONL to the project's provider and create the job, unless this run has one."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.handlers.events import StartFineTuneEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.fine_tune import start_fine_tune
from labeltune.wiring import services


@lambda_entry
@event_parser(model=StartFineTuneEvent)
def handler(event: StartFineTuneEvent, context: Any) -> dict:
    svc = services()
    config = event.config
    job = start_fine_tune(
        event.dataset,
        svc.store,
        svc.fine_tuning(config.provider),
        svc.runs,
        config.base_model,
        svc.clock,
        config.hyperparameters,
        settle=timedelta(seconds=svc.settings.job_create_settle_seconds),
    )
    logger.info("fine-tune job", extra={"run_id": event.run_id, "job_id": job.job_id, "status": job.status})
    return job.model_dump(mode="json")
