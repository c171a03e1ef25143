"""CheckFineTune state: one look at the job; the state machine decides whether to wait again."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.handlers.events import CheckFineTuneEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.fine_tune import check_fine_tune
from labeltune.wiring import services


@lambda_entry
@event_parser(model=CheckFineTuneEvent)
def handler(event: CheckFineTuneEvent, context: Any) -> dict:
    svc = services()
    job = check_fine_tune(event.run_id, event.job_id, svc.fine_tuning(event.provider), svc.runs)
    logger.info("fine-tune status", extra={"run_id": event.run_id, "job_id": job.job_id, "status": job.status})
    return job.model_dump(mode="json")
