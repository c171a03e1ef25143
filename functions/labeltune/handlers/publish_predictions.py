"""PublishPredictions state: the evaluated run's tuned answers become a Labelbox model run (when the project
asks for it), and low-scoring rows go to its review project. `complete: false` in the output means the
function ran short of time between batches: invoking it again carries on where it stopped."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.handlers.events import PublishPredictionsEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.predictions import predictions_off, publish_predictions
from labeltune.wiring import services

# What a batch may take (the upsert and the import wait, LabelboxPredictions' timeouts), left when one starts.
BATCH_MARGIN_MS = 660_000


@lambda_entry
@event_parser(model=PublishPredictionsEvent)
def handler(event: PublishPredictionsEvent, context: Any) -> dict:
    if not event.config.predictions.enabled:  # no Labelbox client built, no secret read
        return predictions_off(event.run_id).model_dump(mode="json")
    svc = services()
    result = publish_predictions(
        event.run_id,
        event.project_id,
        event.config,
        svc.store,
        svc.predictions,
        svc.runs,
        should_stop=lambda: context.get_remaining_time_in_millis() < BATCH_MARGIN_MS,
    )
    logger.info(
        "predictions",
        extra={"run_id": event.run_id, "uploaded": result.uploaded, "errors": result.errors, "done": result.complete},
    )
    return result.model_dump(mode="json")
