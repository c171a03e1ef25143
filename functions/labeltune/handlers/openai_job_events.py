"""`POST /webhooks/openai`: OpenAI's fine-tuning webhooks resume the run waiting for the job.

Its own function (not the API's): verifying a delivery and reading the job back need the openai SDK, which
the Labelbox webhook's cold start does without. Answers, as OpenAI's retries expect:
- 200 for every verified delivery, acted on or not (an event of another type, a job that is not a run's);
- 400 for a delivery that fails verification (OpenAI does not send those; nothing is retried in vain);
- 503 while the endpoint's secret is not set, or the provider or the store is briefly unavailable: OpenAI
  retries for up to 72 hours, and the run's fallback check does not wait for it.
"""

from __future__ import annotations

from typing import TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, HttpResolverLocal, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from labeltune.errors import ConfigurationError
from labeltune.handlers.http_errors import HttpError, error_body, json_response, raw_body, register_error_handlers
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.wiring import services

ROUTE = "/webhooks/openai"
MAX_BODY_BYTES = 64 * 1024  # a fine-tuning event is a few hundred bytes: the payload carries only the job id


App = TypeVar("App", bound=ApiGatewayResolver)


def build_app(app: App) -> App:
    """The route and its error handlers on `app` (the Lambda resolver, or the ASGI one)."""
    register_error_handlers(app)

    @app.exception_handler(ConfigurationError)
    def _not_configured(error: ConfigurationError) -> Response:
        logger.error("openai webhook not configured", extra={"reason": str(error)})
        return json_response(503, error_body("the OpenAI webhook endpoint is not configured yet"))

    @app.post(ROUTE)
    def openai_webhook() -> Response:
        from labeltune.adapters.openai_webhooks import WebhookRejected
        from labeltune.pipeline.completion import resume_on_job_event

        body = raw_body(app)
        if len(body) > MAX_BODY_BYTES:
            raise HttpError(413, f"a webhook delivery is at most {MAX_BODY_BYTES} bytes")
        svc = services()
        try:
            event = svc.openai_webhooks.verify(body.decode("utf-8"), dict(app.current_event.headers or {}))
        except (WebhookRejected, UnicodeDecodeError) as error:
            logger.warning("openai webhook rejected", extra={"reason": type(error).__name__})
            raise HttpError(400, "the delivery could not be verified as OpenAI's") from error
        if event.job_id is None:
            logger.info("openai webhook ignored", extra={"event_id": event.event_id, "type": event.type})
            return json_response(200, {"event_id": event.event_id, "result": "ignored"})
        outcome = resume_on_job_event("openai", event.job_id, svc.fine_tuning("openai"), svc.runs, svc.callbacks)
        logger.info(
            "openai job event",
            extra={"event_id": event.event_id, "type": event.type, "job_id": event.job_id, "outcome": outcome},
        )
        return json_response(200, {"event_id": event.event_id, "job_id": event.job_id, "result": outcome.value})

    return app


app = build_app(APIGatewayRestResolver())
handler = lambda_entry(app.resolve)


def local_app() -> HttpResolverLocal:
    """The same route as an ASGI app, for uvicorn in the local stack."""
    return build_app(HttpResolverLocal())
