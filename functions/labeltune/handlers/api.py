"""The HTTP API: the Labelbox webhook, project configuration and runs.

One set of routes (`build_app`) served two ways: `handler` is the Lambda entry point on an
`APIGatewayRestResolver`, which reads and answers API Gateway's payload format 1.0 (every route in
template.yaml declares 1.0); `local_app()` builds the same routes on Powertools' ASGI `HttpResolverLocal`
for uvicorn in the local stack. Client faults raise and are answered in one shape (handlers/http_errors.py).

The webhook is most of this function's traffic, and its cold starts import only what it runs: the project
configuration routes import `pipeline.projects` (and the model catalog behind it) when first called.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, HttpResolverLocal, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from labeltune.domain.identifiers import is_project_id
from labeltune.domain.json_input import parse_json_object
from labeltune.domain.models import public_run
from labeltune.domain.run_ids import is_valid_run_id
from labeltune.handlers.console_metrics import webhook_responses
from labeltune.handlers.http_errors import HttpError, json_response, raw_body, register_error_handlers
from labeltune.handlers.observability import lambda_entry, logger
from labeltune.pipeline.trigger import Reply, accept_labelbox_webhook, request_manual_run
from labeltune.wiring import services

MAX_CONFIG_BYTES = 64 * 1024  # a project configuration is a few hundred bytes
MAX_ROLLBACK_BYTES = 1024  # {"run_id": ...}: a run id is at most 80 characters
# A run's history is a few hundred events (a fallback check every FallbackCheckSeconds adds four); beyond this
# the timeline says `truncated` instead of paging on inside one API request.
MAX_TIMELINE_EVENTS = 5000

App = TypeVar("App", bound=ApiGatewayResolver)


def checked_project_id(value: str) -> str:
    if not is_project_id(value):
        raise HttpError(400, "invalid project id: 1-128 letters, digits, '-' or '_'")
    return value


def _ids(rollback: dict[str, Any]) -> dict[str, Any]:
    """What a rollback log line carries: whether it changed anything and what it superseded (ids only)."""
    return {k: rollback.get(k) for k in ("changed", "superseded_run_id", "superseded_cleanup_error")}


def build_app(app: App) -> App:
    """Register every route and error handler on `app` (a Lambda resolver, or the ASGI one)."""
    register_error_handlers(app)

    def respond(reply: Reply) -> Response:
        return json_response(reply.status_code, reply.body)

    @app.post("/webhooks/labelbox")
    def labelbox_webhook() -> Response:
        svc = services()
        svc.once.register_lambda_context(app.lambda_context)
        headers = dict(app.current_event.headers or {})
        with webhook_responses() as count:  # WebhookResponses by StatusClass, for the console
            reply = accept_labelbox_webhook(raw_body(app), headers, svc.trigger, svc.once)
            count(reply.status_code)
        logger.info(
            "labelbox webhook",
            extra={k: reply.body.get(k) for k in ("delivery_id", "project_id", "run_id", "counted")}
            | {"status": reply.status_code},
        )
        return respond(reply)

    @app.put("/projects/<project_id>")
    def put_project(project_id: str) -> Response:
        from labeltune.pipeline.projects import configure_project  # with the model catalog: see module doc

        project_id = checked_project_id(project_id)
        body = raw_body(app)
        if len(body) > MAX_CONFIG_BYTES:
            raise HttpError(413, f"a project configuration is at most {MAX_CONFIG_BYTES} bytes")
        changes = parse_json_object(body or b"{}")
        svc = services()
        today, default = svc.clock().date(), svc.settings.default_provider
        stored = configure_project(project_id, changes, svc.projects, svc.catalog, today, default)
        return json_response(200, stored)

    @app.get("/projects/<project_id>")
    def get_project(project_id: str) -> Response:
        from labeltune.pipeline.projects import project_view  # with the model catalog: see module doc

        svc = services()
        project = svc.projects.get_project(checked_project_id(project_id))
        if project is None:
            raise HttpError(404, "unknown project", project_id=project_id)
        return json_response(200, project_view(project, svc.catalog, svc.clock().date()))

    @app.post("/projects/<project_id>/runs")
    def start_project_run(project_id: str) -> Response:
        headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
        return respond(
            request_manual_run(checked_project_id(project_id), headers.get("idempotency-key"), services().trigger)
        )

    @app.get("/projects/<project_id>/runs")
    def list_project_runs(project_id: str) -> dict[str, Any]:
        """The project's runs newest first, a page at a time (?limit=1..100&next_token=<from the last page>)."""
        from labeltune.domain.pagination import InvalidPageRequest, PageKey, decode_token, encode_token, parse_limit

        project_id = checked_project_id(project_id)
        query = app.current_event.query_string_parameters or {}
        try:
            limit = parse_limit(query.get("limit"))
            token = query.get("next_token")
            after = decode_token(token, project_id) if token is not None else None
        except InvalidPageRequest as refused:
            raise HttpError(400, str(refused), errors=[{"field": refused.field, "message": str(refused)}]) from refused
        svc = services()
        if svc.projects.get_project(project_id) is None:
            raise HttpError(404, "unknown project", project_id=project_id)
        runs, last = svc.runs.list_runs_page(project_id, limit, after.as_key() if after else None)
        next_token = encode_token(PageKey(**last)) if last else None
        return {"project_id": project_id, "runs": [public_run(run) for run in runs], "next_token": next_token}

    @app.get("/projects/<project_id>/deliveries")
    def list_project_deliveries(project_id: str) -> dict[str, Any]:
        """Recent webhook deliveries (a week): topic and action as received, and whether each counted."""
        svc = services()
        if svc.projects.get_project(checked_project_id(project_id)) is None:
            raise HttpError(404, "unknown project", project_id=project_id)
        return {"project_id": project_id, "deliveries": svc.projects.list_deliveries(project_id)}

    @app.get("/projects/<project_id>/model")
    def get_project_model(project_id: str) -> Response:
        """The project's current model and its promotions, newest first."""
        from labeltune.pipeline.promotion import model_view  # off the webhook's cold start: see module doc

        project = services().projects.get_project(checked_project_id(project_id))
        if project is None:
            raise HttpError(404, "unknown project", project_id=project_id)
        return json_response(200, model_view(project))

    @app.post("/projects/<project_id>/model")
    def roll_back_project_model(project_id: str) -> Response:
        """Make the model of an earlier promoted run current again: {"run_id": "..."}."""
        from labeltune.errors import UnknownProject
        from labeltune.pipeline.promotion import RollbackRefused, roll_back

        project_id = checked_project_id(project_id)
        body = raw_body(app)
        if len(body) > MAX_ROLLBACK_BYTES:
            raise HttpError(413, f"a rollback request is at most {MAX_ROLLBACK_BYTES} bytes")
        request = parse_json_object(body or b"{}")
        run_id = request.get("run_id")
        if set(request) != {"run_id"} or not isinstance(run_id, str) or not is_valid_run_id(run_id):
            raise HttpError(400, 'the body must be {"run_id": "<a run id>"}')
        svc = services()
        try:
            result = roll_back(project_id, run_id, svc.projects, svc.serving, svc.clock)
        except UnknownProject as unknown:
            raise HttpError(404, "unknown project", project_id=project_id) from unknown
        except RollbackRefused as refused:
            raise HttpError(409, str(refused), project_id=project_id, run_id=run_id) from refused
        logger.info("model rolled back", extra={"project_id": project_id, "run_id": run_id, **_ids(result)})
        return json_response(200, result)

    @app.get("/runs/<run_id>")
    def get_run(run_id: str) -> Response:
        if not is_valid_run_id(run_id):
            raise HttpError(400, "invalid run id")
        run = services().runs.get_run(run_id)
        if run is None:
            raise HttpError(404, "no such run", run_id=run_id)
        return json_response(200, public_run(run))

    @app.post("/runs/<run_id>/cancel")
    def cancel_run(run_id: str) -> Response:
        """Stop a run in flight (pipeline/cancel.py): 202 when this request cancelled it, 200 when it was already
        cancelled or being cancelled, 409 when it had already succeeded or failed."""
        from labeltune.pipeline.cancel import CancelVerdict
        from labeltune.pipeline.cancel import cancel_run as cancel

        if not is_valid_run_id(run_id):
            raise HttpError(400, "invalid run id")
        svc = services()
        result = cancel(run_id, svc.runs, svc.starter, svc.projects, svc.clock)
        logger.info("run cancel", extra={"run_id": run_id, "verdict": result.verdict.value})
        if result.verdict is CancelVerdict.UNKNOWN:
            raise HttpError(404, "no such run", run_id=run_id)
        if result.verdict is CancelVerdict.FINISHED:
            status = (result.run or {}).get("status")
            raise HttpError(409, f"the run has already ended ({status})", run_id=run_id, run_status=status)
        return json_response(202 if result.verdict is CancelVerdict.REQUESTED else 200, result.body(run_id))

    @app.get("/runs/<run_id>/timeline")
    def get_run_timeline(run_id: str) -> Response:
        """The states the run's execution entered, with times and durations (domain/timeline.py)."""
        from labeltune.domain.timeline import fold_history

        if not is_valid_run_id(run_id):
            raise HttpError(400, "invalid run id")
        svc = services()
        if svc.runs.get_run(run_id) is None:
            raise HttpError(404, "no such run", run_id=run_id)
        execution = svc.starter.describe(run_id)
        events, truncated = svc.starter.history(run_id, MAX_TIMELINE_EVENTS) if execution else ([], False)
        timeline = fold_history(events, truncated, execution)
        return json_response(200, timeline.as_json(run_id))

    @app.get("/runs/<run_id>/report")
    def get_run_report(run_id: str) -> Response:
        """A redirect to the run's report through a short-lived presigned link (the bucket stays private)."""
        from labeltune.pipeline.report import LINK_SECONDS, report_key  # see module doc: the webhook never needs it

        if not is_valid_run_id(run_id):
            raise HttpError(400, "invalid run id")
        svc = services()
        run = svc.runs.get_run(run_id)
        if run is None:
            raise HttpError(404, "no such run", run_id=run_id)
        if run.get("report_key") != report_key(run_id):  # recorded once the report was stored
            raise HttpError(404, "the run has no report", run_id=run_id)
        url = svc.store.presigned_url(report_key(run_id), LINK_SECONDS)
        body = {"run_id": run_id, "expires_in_seconds": LINK_SECONDS}
        return json_response(302, body, headers={"Location": url, "Cache-Control": "no-store"})

    return app


app = build_app(APIGatewayRestResolver())
handler = lambda_entry(app.resolve)


def local_app() -> HttpResolverLocal:
    """The same routes as an ASGI app, for uvicorn in the local stack."""
    return build_app(HttpResolverLocal())
