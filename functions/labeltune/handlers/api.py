"""The HTTP API: the Labelbox webhook and the management routes.

`app` is a Powertools HttpResolverLocal: the same object is the Lambda handler (API Gateway payload
format 1.0) and an ASGI app that uvicorn serves in the local stack.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import HttpResolverLocal, Response, content_types

from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.trigger import Reply, accept_labelbox_webhook, request_manual_run
from labeltune.wiring import services

app = HttpResolverLocal()


def _raw_body() -> bytes:
    """The exact bytes received: the signature is computed over them."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def _respond(reply: Reply) -> Response:
    return Response(status_code=reply.status_code, content_type=content_types.APPLICATION_JSON, body=reply.body)


@app.post("/webhooks/labelbox")
def labelbox_webhook() -> Response:
    svc = services()
    reply = accept_labelbox_webhook(
        _raw_body(),
        dict(app.current_event.headers or {}),
        svc.webhook_secret(),
        svc.runs,
        svc.starter,
        svc.settings.poll_interval_seconds,
    )
    logger.info("labelbox webhook", extra={"status": reply.status_code, "run_id": reply.body.get("run_id")})
    return _respond(reply)


@app.post("/projects/<project_id>/runs")
def start_project_run(project_id: str) -> Response:
    svc = services()
    key = app.current_event.headers.get("idempotency-key") or app.current_event.headers.get("Idempotency-Key")
    reply = request_manual_run(project_id, key, svc.runs, svc.starter, svc.settings.poll_interval_seconds)
    return _respond(reply)


@app.get("/projects/<project_id>/runs")
def list_project_runs(project_id: str) -> dict[str, Any]:
    return {"project_id": project_id, "runs": services().runs.list_runs(project_id)}


@app.get("/runs/<run_id>")
def get_run(run_id: str) -> Response:
    run = services().runs.get_run(run_id)
    if run is None:
        return Response(status_code=404, content_type=content_types.APPLICATION_JSON, body={"message": "no such run"})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=run)


handler = lambda_entry(app.resolve)
