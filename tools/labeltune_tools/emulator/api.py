"""The emulated endpoints: request parsing and response bodies, independent of the HTTP plumbing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from labeltune_tools.emulator import training
from labeltune_tools.emulator.catalog import resolve_base
from labeltune_tools.emulator.errors import ApiError, invalid_request, not_found
from labeltune_tools.emulator.jobs import new_id, parse_job_request
from labeltune_tools.emulator.judge import base_reply
from labeltune_tools.emulator.state import FILE_ORDERS, MAX_FILES_PAGE, EmulatorState, check_limit, model_not_found

MAX_CHOICES = 128
EXPIRES_AFTER_SECONDS = (3600, 2_592_000)


@dataclass(frozen=True)
class Request:
    """What an endpoint needs from an HTTP request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes

    def query_value(self, name: str) -> str | None:
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None

    def json(self) -> dict[str, Any]:
        """The JSON object body; OpenAI answers 400 to anything else."""
        try:
            body = json.loads(self.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise invalid_request(
                "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
            ) from None
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        return body


@dataclass
class Response:
    """Status, body (JSON object or raw bytes) and extra headers."""

    status: int
    body: dict[str, Any] | bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename or None, bytes)."""
    header = Message()
    header["content-type"] = request.headers.get("content-type", "")
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise invalid_request("Expected a multipart/form-data body.")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in request.body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        part_headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            field_name, sep, value = line.partition(":")
            if sep:
                part_headers[field_name.strip()] = value.strip()
        name = part_headers.get_param("name", header="content-disposition")
        filename = part_headers.get_param("filename", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (filename if isinstance(filename, str) else None, data.removesuffix(b"\r\n"))
    return fields


def _user_text(messages: list[Any]) -> str:
    """The last user message (what the emulated models respond to), else the last message."""
    users = [m for m in messages if m.get("role") == "user"]
    return training.message_text((users or messages)[-1])


def _truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """Cut the reply at `max_tokens` approximate tokens, reporting finish_reason "length" if cut."""
    if max_tokens is None:
        return text, "stop"
    spans = training.token_spans(text)
    if len(spans) <= max_tokens:
        return text, "stop"
    return (text[: spans[max_tokens - 1][1]] if max_tokens > 0 else ""), "length"


class Api:
    """Routes requests to endpoint methods over one `EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("POST", re.compile(r"/v1/files"), self.create_file),
            ("GET", re.compile(r"/v1/files"), self.list_files),
            ("GET", re.compile(r"/v1/files/([^/]+)"), self.retrieve_file),
            ("DELETE", re.compile(r"/v1/files/([^/]+)"), self.delete_file),
            ("GET", re.compile(r"/v1/files/([^/]+)/content"), self.file_content),
            ("POST", re.compile(r"/v1/fine_tuning/jobs"), self.create_job),
            ("GET", re.compile(r"/v1/fine_tuning/jobs"), self.list_jobs),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/([^/]+)"), self.retrieve_job),
            ("POST", re.compile(r"/v1/fine_tuning/jobs/([^/]+)/cancel"), self.cancel_job),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/([^/]+)/events"), self.list_events),
            ("POST", re.compile(r"/v1/chat/completions"), self.chat_completion),
            ("GET", re.compile(r"/v1/models"), self.list_models),
            ("GET", re.compile(r"/v1/models/([^/]+)"), self.retrieve_model),
        ]

    def handle(self, request: Request) -> Response:
        """Dispatch; unknown method/path pairs get OpenAI's "Invalid URL" 404."""
        for method, pattern, endpoint in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                try:
                    return endpoint(request, *(unquote(group) for group in match.groups()))
                except ApiError as error:
                    return Response(error.status, error.body)
        missing = not_found(f"Invalid URL ({request.method} {request.path})")
        return Response(missing.status, missing.body)

    # -- files ---------------------------------------------------------------------------------

    def create_file(self, request: Request) -> Response:
        fields = _multipart(request)
        if "file" not in fields or fields["file"][0] is None:
            raise invalid_request(
                "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
            )
        if "purpose" not in fields:
            raise invalid_request(
                "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
            )
        filename, content = fields["file"]
        return Response(
            200,
            self.state.add_file(
                filename=filename or "upload",
                purpose=fields["purpose"][1].decode("utf-8", "replace"),
                content=content,
                expires_after=_expires_after(fields),
            ),
        )

    def list_files(self, request: Request) -> Response:
        order = request.query_value("order") or "desc"
        if order not in FILE_ORDERS:
            message = f"Invalid value: {order!r}. Supported values are: 'asc' and 'desc'."
            raise invalid_request(message, param="order", code="invalid_value")
        return Response(
            200,
            self.state.list_files(
                purpose=request.query_value("purpose") or None,
                order=order,
                after=request.query_value("after"),
                limit=check_limit(request.query_value("limit"), MAX_FILES_PAGE, MAX_FILES_PAGE),
            ),
        )

    def retrieve_file(self, request: Request, file_id: str) -> Response:
        return Response(200, self.state.get_file(file_id).to_api())

    def delete_file(self, request: Request, file_id: str) -> Response:
        return Response(200, self.state.delete_file(file_id))

    def file_content(self, request: Request, file_id: str) -> Response:
        return Response(200, self.state.get_file(file_id).content, content_type="application/octet-stream")

    # -- fine-tuning -----------------------------------------------------------------------------

    def create_job(self, request: Request) -> Response:
        return Response(200, self.state.create_job(parse_job_request(request.json())))

    def list_jobs(self, request: Request) -> Response:
        filters = {key[len("metadata[") : -1]: value for key, value in request.query if _is_metadata_key(key)}
        raw = request.query_value("metadata")
        if raw is not None and (raw != "null" or filters):
            raise invalid_request(
                "Invalid 'metadata' filter: use metadata[key]=value pairs, or metadata=null alone.",
                param="metadata",
            )
        return Response(
            200,
            self.state.list_jobs(
                after=request.query_value("after"),
                limit=check_limit(request.query_value("limit"), 20),
                metadata=filters,
                null_metadata=raw == "null",
            ),
        )

    def retrieve_job(self, request: Request, job_id: str) -> Response:
        return Response(200, self.state.get_job(job_id))

    def cancel_job(self, request: Request, job_id: str) -> Response:
        return Response(200, self.state.cancel_job(job_id))

    def list_events(self, request: Request, job_id: str) -> Response:
        limit = check_limit(request.query_value("limit"), 20)
        return Response(200, self.state.list_events(job_id, after=request.query_value("after"), limit=limit))

    # -- inference -----------------------------------------------------------------------------

    def chat_completion(self, request: Request) -> Response:
        body = request.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid_request(
                "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise invalid_request("'messages' must be a non-empty array of message objects.", param="messages")
        if body.get("stream"):
            raise invalid_request("The labeltune emulator does not emulate streaming (stream=true).", param="stream")
        n = body.get("n") or 1
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES:
            raise invalid_request(f"'n' must be an integer between 1 and {MAX_CHOICES}.", param="n")
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise invalid_request("'max_completion_tokens' must be a positive integer.", param="max_completion_tokens")

        user_text = _user_text(messages)
        base = resolve_base(model)
        if base is not None:
            served, reply = base.snapshot, base_reply(user_text)  # a judge prompt gets the stand-in judge
        elif model.startswith("ft:"):
            tuned = self.state.fine_tuned(model)
            served, reply = tuned.id, tuned.behaviour.reply(user_text)
        else:
            raise model_not_found(model)
        content, finish_reason = _truncate(reply, limit)
        prompt_tokens = training.conversation_tokens(messages)
        completion_tokens = training.approx_tokens(content) * n
        return Response(
            200,
            {
                "id": new_id("chatcmpl-", 29),
                "object": "chat.completion",
                "created": int(self.state.now()),
                "model": served,
                "choices": [
                    {
                        "index": index,
                        "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                    for index in range(n)
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
                "service_tier": "default",
            },
        )

    # -- models --------------------------------------------------------------------------------

    def list_models(self, request: Request) -> Response:
        return Response(200, self.state.list_models())

    def retrieve_model(self, request: Request, model_id: str) -> Response:
        return Response(200, self.state.get_model(model_id))


def _is_metadata_key(key: str) -> bool:
    return key.startswith("metadata[") and key.endswith("]") and len(key) > len("metadata[]")


def _expires_after(fields: dict[str, tuple[str | None, bytes]]) -> int | None:
    """The optional `expires_after[anchor]=created_at` / `expires_after[seconds]=N` form fields."""
    anchor = fields.get("expires_after[anchor]")
    seconds = fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    low, high = EXPIRES_AFTER_SECONDS
    try:
        value = int(seconds[1]) if seconds else -1
    except ValueError:
        value = -1
    if anchor is None or anchor[1] != b"created_at" or not low <= value <= high:
        raise invalid_request(
            f"Invalid 'expires_after': anchor must be 'created_at' and seconds between {low} and {high}.",
            param="expires_after",
        )
    return value
