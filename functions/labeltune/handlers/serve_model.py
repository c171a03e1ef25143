"""ServeTunedModel / CheckTunedModel states: make the tuned model callable; the state machine waits between looks."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.errors import ConfigurationError
from labeltune.handlers.events import ServeModelEvent
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.serving import check_tuned_model, serve_tuned_model
from labeltune.wiring import services


@lambda_entry
@event_parser(model=ServeModelEvent)
def handler(event: ServeModelEvent, context: Any) -> dict:
    svc = services()
    serving = svc.serving(event.provider)
    if event.action == "start":
        if event.job is None:
            raise ConfigurationError("ServeTunedModel needs the job that succeeded")
        result = serve_tuned_model(event.run_id, event.job, serving, svc.runs, svc.clock)
    else:
        if not event.endpoint_id or not event.requested_at:
            raise ConfigurationError("CheckTunedModel needs the endpoint id and when it was requested")
        result = check_tuned_model(event.run_id, event.endpoint_id, event.requested_at, serving, svc.runs, svc.clock)
    endpoint = result.endpoint
    logger.info(
        "tuned model endpoint", extra={"run_id": event.run_id, "state": endpoint.state, "status": endpoint.status}
    )
    return result.model_dump(mode="json")
