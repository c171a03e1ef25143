"""The emulated operations: typed request parameters in, response bodies out, independent of HTTP.

Each request is first checked against its input shape from botocore's service model (required members,
enums, lengths, patterns, ranges), as Bedrock's front end checks it, then by the operation's own rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labeltune_tools.bedrock_emulator import catalog
from labeltune_tools.bedrock_emulator.errors import UNKNOWN_OPERATION, BedrockError, validation
from labeltune_tools.bedrock_emulator.service_model import Route, operation_model, request_params, validate_input
from labeltune_tools.bedrock_emulator.state import BedrockState, check_hyperparameters
from labeltune_tools.emulator.training import approx_tokens, token_spans

DEFAULT_PAGE_SIZE = 100
START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)
ALTERNATE_ROLES = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates "
    "between user and assistant roles and try again."
)


@dataclass
class Response:
    """Status, JSON body and extra headers of one answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_response(error: BedrockError) -> Response:
    return Response(error.status, error.body, error.headers)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise validation("The provided pagination token is invalid.")


def _page(items: list[dict[str, Any]], params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One page of `items` (`maxResults`, default 100) and a `nextToken` when more follow."""
    start = _decode_token(params.get("nextToken"))
    limit = int(params.get("maxResults") or DEFAULT_PAGE_SIZE)
    body: dict[str, Any] = {key: items[start : start + limit]}
    if start + limit < len(items):
        body["nextToken"] = _encode_token(start + limit)
    return body


def _text(blocks: Any) -> str:
    """The text blocks of a message or system prompt, joined (other block kinds are ignored)."""
    if not isinstance(blocks, list):
        return ""
    return "\n".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


class BedrockApi:
    """Dispatches a routed request to its operation."""

    def __init__(self, state: BedrockState) -> None:
        self.state = state
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateModelCustomizationJob": self._create_job,
            "GetModelCustomizationJob": lambda p: state.get_job(p["jobIdentifier"]),
            "ListModelCustomizationJobs": self._list_jobs,
            "StopModelCustomizationJob": self._stop_job,
            "GetCustomModel": lambda p: state.get_custom_model(p["modelIdentifier"]),
            "CreateCustomModelDeployment": self._create_deployment,
            "GetCustomModelDeployment": lambda p: state.get_deployment(p["customModelDeploymentIdentifier"]),
            "ListCustomModelDeployments": self._list_deployments,
            "DeleteCustomModelDeployment": self._delete_deployment,
            "ListFoundationModels": self._list_foundation_models,
            "Converse": self._converse,
        }

    @property
    def operations(self) -> frozenset[str]:
        """The operations the emulator implements (others answer UnknownOperationException)."""
        return frozenset(self._handlers)

    def handle(self, route: Route, labels: Mapping[str, str], query: list[tuple[str, str]], body: bytes) -> Response:
        """Parse, validate and run one request (raises BedrockError for an error answer)."""
        handler = self._handlers.get(route.operation)
        if handler is None:
            raise BedrockError(
                UNKNOWN_OPERATION, f"The Bedrock emulator does not emulate {route.operation} ({route.service})."
            )
        operation = operation_model(route.service, route.operation)
        try:
            payload = json.loads(body) if body.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BedrockError("SerializationException", "The request body is not valid JSON.") from None
        params = request_params(operation, labels, query, payload)
        validate_input(operation, params)
        return Response(int(operation.http.get("responseCode", 200)), handler(params))

    # -- bedrock ---------------------------------------------------------------------------------------

    def _create_job(self, p: dict[str, Any]) -> dict[str, Any]:
        customization = p.get("customizationType", "FINE_TUNING")
        if customization != "FINE_TUNING":
            raise validation(f"The customization type {customization} is not emulated; only FINE_TUNING is.")
        if "customizationConfig" in p:
            raise validation("customizationConfig (distillation, reinforcement fine-tuning) is not emulated.")
        training = p["trainingDataConfig"]
        if "invocationLogsConfig" in training:
            raise validation("trainingDataConfig.invocationLogsConfig is not emulated; give trainingDataConfig.s3Uri.")
        if "s3Uri" not in training:
            raise validation("trainingDataConfig.s3Uri is required.")
        identifier = p["baseModelIdentifier"]
        model = catalog.customizable(identifier)
        if model is None:
            other = catalog.known(identifier)
            if other is not None:
                raise validation(
                    f"The base model {identifier} can't be fine-tuned; use its customizable variant "
                    f"{other.customizable_id}."
                )
            raise validation(f"The base model {identifier} is not a customizable model (or does not exist).")
        if self.state.is_legacy(model.customizable_id):
            # A Legacy model takes no new fine-tuning jobs (Bedrock "Model lifecycle"); the wording is the emulator's.
            raise validation(f"The base model {identifier} is in Legacy state and can't be customized.")
        hyperparameters = check_hyperparameters(p.get("hyperParameters"))
        arn, _ = self.state.create_job(p, model, hyperparameters)
        return {"jobArn": arn}

    def _list_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        summaries = self.state.list_jobs(
            name_contains=p.get("nameContains"),
            status=p.get("statusEquals"),
            created_after=p.get("creationTimeAfter"),
            created_before=p.get("creationTimeBefore"),
            ascending=p.get("sortOrder") == "Ascending",
        )
        return _page(summaries, p, "modelCustomizationJobSummaries")

    def _stop_job(self, p: dict[str, Any]) -> dict[str, Any]:
        self.state.stop_job(p["jobIdentifier"])
        return {}

    def _create_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        arn, _ = self.state.create_deployment(p)
        return {"customModelDeploymentArn": arn}

    def _list_deployments(self, p: dict[str, Any]) -> dict[str, Any]:
        summaries = self.state.list_deployments(
            name_contains=p.get("nameContains"),
            status=p.get("statusEquals"),
            model_arn=p.get("modelArnEquals"),
            created_after=p.get("createdAfter"),
            created_before=p.get("createdBefore"),
            ascending=p.get("sortOrder") == "Ascending",
        )
        return _page(summaries, p, "modelDeploymentSummaries")

    def _delete_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        self.state.delete_deployment(p["customModelDeploymentIdentifier"])
        return {}

    def _list_foundation_models(self, p: dict[str, Any]) -> dict[str, Any]:
        provider = p.get("byProvider")
        summaries = [
            s
            for s in self.state.foundation_models()
            if (provider is None or s["providerName"].lower() == provider.lower())
            and ("byCustomizationType" not in p or p["byCustomizationType"] in s["customizationsSupported"])
            and ("byOutputModality" not in p or p["byOutputModality"] in s["outputModalities"])
            and ("byInferenceType" not in p or p["byInferenceType"] in s["inferenceTypesSupported"])
        ]
        return {"modelSummaries": summaries}

    # -- bedrock-runtime -------------------------------------------------------------------------------

    def _converse(self, p: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        messages = p.get("messages") or []
        if not messages or messages[0].get("role") != "user":
            raise validation(START_WITH_USER)
        for index, message in enumerate(messages):
            if message.get("role") != ("user" if index % 2 == 0 else "assistant"):
                raise validation(ALTERNATE_ROLES)
        reply_to = self.state.responder(p["modelId"])
        last_user = next(_text(m["content"]) for m in reversed(messages) if m["role"] == "user")
        text = reply_to(last_user)
        stop_reason = "end_turn"
        config = p.get("inferenceConfig") or {}
        for sequence in config.get("stopSequences") or []:
            if sequence in text:
                text, stop_reason = text[: text.index(sequence)], "stop_sequence"
        max_tokens = config.get("maxTokens")
        spans = token_spans(text)
        if max_tokens is not None and len(spans) > max_tokens:
            text, stop_reason = text[: spans[max_tokens - 1][1]], "max_tokens"
        prompt = "\n".join([_text(p.get("system"))] + [_text(m["content"]) for m in messages])
        input_tokens, output_tokens = approx_tokens(prompt), approx_tokens(text)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": max(1, round((time.monotonic() - started) * 1000))},
        }
