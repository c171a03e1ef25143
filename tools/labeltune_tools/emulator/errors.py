"""OpenAI-shaped error responses, so SDK error classes and their `.body`/`.code` behave as in production."""

from __future__ import annotations

from typing import Any

# Status -> (type, code, message) for errors the emulator injects or raises without a more specific reason.
# Types and wording follow what api.openai.com returns for these statuses.
_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Request not allowed."),
    404: ("invalid_request_error", None, "Not found."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicted with another request."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (emulated by labeltune's OpenAI emulator). Please try again later.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


INSUFFICIENT_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)

# Error code -> (type, message) for codes whose type is not the status default. `insufficient_quota` is
# the 429 an account without credit gets: same status as a rate limit, but waiting does not help.
_CODES: dict[str, tuple[str, str]] = {
    "insufficient_quota": ("insufficient_quota", INSUFFICIENT_QUOTA_MESSAGE),
}


def error_body(message: str, *, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The `ErrorResponse` schema: every field present, `param`/`code` null when not applicable."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def default_error_body(status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
    """A plausible body for a bare status (used by fault injection).

    A known `code` (e.g. `insufficient_quota`) brings OpenAI's type and message for it; any other code
    is sent as given with the status's default type, so a test can name codes the table lacks.
    """
    type_, default_code, default_message = _DEFAULTS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}.")
    )
    if code is not None:
        type_, default_message = _CODES.get(code, (type_, default_message))
    return error_body(message or default_message, type_=type_, code=code if code is not None else default_code)


class ApiError(Exception):
    """Raised by endpoint code; the server turns it into the HTTP status and OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_=type_, param=param, code=code)


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """400 invalid_request_error, the commonest validation failure."""
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """404 invalid_request_error for a missing object."""
    return ApiError(404, message, param=param, code=code)
