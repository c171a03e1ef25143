"""One error shape for every 4xx the API answers: {"message": ..., "errors": [{"field", "message"}, ...]}.

`errors` is there when there are several things to fix (a configuration with three bad fields). Nothing the
caller sent is echoed back. Registered as Powertools exception handlers, so routes raise instead of
building error responses, and a route the API does not have answers in the same shape.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from labeltune.domain.json_input import MalformedJson
from labeltune.errors import InvalidInput, TransientError

RETRY_AFTER_SECONDS = 2


class HttpError(Exception):
    """A client fault with its status: raised by a route, answered by the handler below."""

    def __init__(self, status: int, message: str, **context: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.context = status, message, context


def raw_body(app: ApiGatewayResolver) -> bytes:
    """The exact bytes received (webhook signatures are computed over them), base64-decoded where API Gateway
    encoded them."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_body(message: str, problems: list[dict[str, str]] | None = None, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, **context}
    if problems:
        body["errors"] = problems
    return body


def answered_status(error: Exception) -> int:
    """The status the handlers below answer an exception with (500 for any other): the one mapping, which the
    console's webhook metric counts by too (handlers/console_metrics.py)."""
    if isinstance(error, HttpError):
        return error.status
    if isinstance(error, InvalidInput | MalformedJson):
        return 400
    if isinstance(error, TransientError):
        return 503
    return 500


def register_error_handlers(app: ApiGatewayResolver) -> None:
    @app.exception_handler(HttpError)
    def _http_error(error: HttpError) -> Response:
        return json_response(answered_status(error), error_body(error.message, **error.context))

    @app.exception_handler(InvalidInput)
    def _invalid_input(error: InvalidInput) -> Response:
        return json_response(answered_status(error), error_body(error.message, error.problems))

    @app.exception_handler(MalformedJson)
    def _malformed(error: MalformedJson) -> Response:
        return json_response(answered_status(error), error_body(str(error)))

    @app.exception_handler(TransientError)
    def _busy(error: TransientError) -> Response:
        # DynamoDB kept cancelling the write (concurrent transactions on one project): nothing was recorded,
        # and the caller (Labelbox redelivers) should come back shortly.
        body = error_body("the request could not be recorded right now; retry shortly")
        return json_response(answered_status(error), body, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.not_found
    def _no_route(error: NotFoundError) -> Response:
        return json_response(404, error_body("no such route"))
