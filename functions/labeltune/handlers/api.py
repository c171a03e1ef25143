"""The HTTP API: the Labelbox webhook, project configuration and runs.

`app` is a Powertools HttpResolverLocal: the same object is the Lambda handler (API Gateway payload
format 1.0) and an ASGI app that uvicorn serves in the local stack.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import HttpResolverLocal, Response, content_types
from pydantic import ValidationError

from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.projects import configure_project
from labeltune.pipeline.trigger import Reply, accept_labelbox_webhook, request_manual_run
from labeltune.wiring import services

app = HttpResolverLocal()


def _raw_body() -> bytes:
    """The exact bytes received: the signature is computed over them."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def _json(status_code: int, body: Any) -> Response:
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=body)


def _respond(reply: Reply) -> Response:
    return _json(reply.status_code, reply.body)


@app.post("/webhooks/labelbox")
def labelbox_webhook() -> Response:
    svc = services()
    svc.once.register_lambda_context(app.lambda_context)
    headers = dict(app.current_event.headers or {})
    reply = accept_labelbox_webhook(_raw_body(), headers, svc.webhook_secret(), svc.trigger, svc.once)
    logger.info(
        "labelbox webhook",
        extra={k: reply.body.get(k) for k in ("delivery_id", "project_id", "run_id", "counted")}
        | {"status": reply.status_code},
    )
    return _respond(reply)


@app.put("/projects/<project_id>")
def put_project(project_id: str) -> Response:
    try:
        changes = json.loads(_raw_body() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        return _json(200, configure_project(project_id, changes, services().projects, services().settings))
    except ValidationError as error:
        return _json(400, {"message": "invalid project configuration", "errors": error.errors(include_url=False)})
    except ValueError as error:
        return _json(400, {"message": str(error)})


@app.get("/projects/<project_id>")
def get_project(project_id: str) -> Response:
    project = services().projects.get_project(project_id)
    return _json(200, project) if project else _json(404, {"message": "unknown project"})


@app.post("/projects/<project_id>/runs")
def start_project_run(project_id: str) -> Response:
    key = app.current_event.headers.get("idempotency-key") or app.current_event.headers.get("Idempotency-Key")
    return _respond(request_manual_run(project_id, key, services().trigger))


@app.get("/projects/<project_id>/runs")
def list_project_runs(project_id: str) -> dict[str, Any]:
    return {"project_id": project_id, "runs": services().runs.list_runs(project_id)}


@app.get("/runs/<run_id>")
def get_run(run_id: str) -> Response:
    run = services().runs.get_run(run_id)
    return _json(200, run) if run else _json(404, {"message": "no such run"})


handler = lambda_entry(app.resolve)
