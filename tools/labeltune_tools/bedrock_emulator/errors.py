"""Bedrock-shaped errors: the status and `x-amzn-ErrorType` botocore reads, and a `{"message"}` body.

boto3 raises `client.exceptions.<Code>` from the `x-amzn-ErrorType` header, so getting the code and the
status right is what lets the caller's `except` clauses and botocore's retries behave as against AWS.
"""

from __future__ import annotations

from typing import Any

# Status per error code, as the error shapes in botocore's bedrock and bedrock-runtime models declare them
# (tests/bedrock_emulator checks this table against the models). ConflictException is 400 there, not 409.
ERROR_STATUS: dict[str, int] = {
    "AccessDeniedException": 403,
    "ConflictException": 400,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "TooManyTagsException": 400,
    "ValidationException": 400,
}
# Not in the models: what an AWS REST endpoint answers for a path no operation has.
UNKNOWN_OPERATION = "UnknownOperationException"

DEFAULT_MESSAGES: dict[str, str] = {
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "InternalServerException": "The server encountered an internal error while processing the request.",
    "ModelNotReadyException": "The model is not ready to serve inference requests. Try again later.",
    "ModelTimeoutException": "The model took too long to respond.",
    "ServiceQuotaExceededException": "The number of requests exceeds the service quota.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ValidationException": "Input validation failed. Check your request parameters and retry the request.",
}


def error_status(code: str) -> int:
    """The HTTP status for an error code (500 for a server-side code the table lacks, else 400)."""
    if code in ERROR_STATUS:
        return ERROR_STATUS[code]
    return 404 if code == UNKNOWN_OPERATION else 400


class BedrockError(Exception):
    """Raised by endpoint code; the server turns it into the status, `x-amzn-ErrorType` and body."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else error_status(code)

    @property
    def body(self) -> dict[str, Any]:
        return {"message": self.message}

    @property
    def headers(self) -> dict[str, str]:
        return {"x-amzn-ErrorType": self.code}


def validation(message: str) -> BedrockError:
    return BedrockError("ValidationException", message)


def not_found(message: str) -> BedrockError:
    return BedrockError("ResourceNotFoundException", message)


def conflict(message: str) -> BedrockError:
    return BedrockError("ConflictException", message)
