"""Routing and request validation driven by botocore's own service models for bedrock and bedrock-runtime.

Reading the models (rather than hand-writing paths and limits) keeps the emulator on the same HTTP paths,
member names and constraints as the boto3 that talks to it: a botocore upgrade that moves a path or
tightens a pattern shows up here, not as a silent mismatch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from labeltune_tools.bedrock_emulator.errors import BedrockError

log = logging.getLogger(__name__)

SERVICES = ("bedrock", "bedrock-runtime")
_LABEL = re.compile(r"\{([^}]+)\}")


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of `service` (cached: loading it parses a large JSON document)."""
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


@dataclass(frozen=True)
class Route:
    """One operation's HTTP method and path template, compiled to a regex over the raw (encoded) path."""

    service: str
    operation: str
    method: str
    template: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    literal_segments: int


def _compile(service: str, operation: str, method: str, template: str) -> Route:
    path = template.split("?", 1)[0]
    labels: list[str] = []
    pattern = ""
    position = 0
    for match in _LABEL.finditer(path):
        pattern += re.escape(path[position : match.start()])
        name = match.group(1)
        greedy = name.endswith("+")
        labels.append(name.rstrip("+"))
        pattern += "(.+)" if greedy else "([^/]+)"
        position = match.end()
    pattern += re.escape(path[position:])
    literal = sum(1 for segment in path.strip("/").split("/") if segment and "{" not in segment)
    return Route(service, operation, method, template, re.compile(pattern), tuple(labels), literal)


@cache
def routes() -> tuple[Route, ...]:
    """Every operation of both services, most literal path first (so a fixed path beats a label)."""
    table = []
    for service in SERVICES:
        model = service_model(service)
        for name in model.operation_names:
            http = model.operation_model(name).http
            table.append(_compile(service, name, http["method"], http["requestUri"]))
    return tuple(sorted(table, key=lambda route: -route.literal_segments))


def match_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    """The operation a request is for and its URI labels (percent-decoded), or None.

    Matching runs on the raw path: botocore percent-encodes labels (an ARN's `/` arrives as `%2F`).
    """
    for route in routes():
        if route.method != method:
            continue
        found = route.regex.fullmatch(raw_path)
        if found:
            return route, {name: unquote(value) for name, value in zip(route.labels, found.groups(), strict=True)}
    return None


# -- request parameters ----------------------------------------------------------------------------------


def _parse_timestamp(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


def _from_text(shape: Shape, raw: str, where: str) -> Any:
    """A URI label or query value converted to the member's type, as the service would read it."""
    try:
        if shape.type_name in ("integer", "long"):
            return int(raw)
        if shape.type_name in ("float", "double"):
            return float(raw)
        if shape.type_name == "boolean":
            if raw not in ("true", "false"):
                raise ValueError(raw)
            return raw == "true"
        if shape.type_name == "timestamp":
            return _parse_timestamp(raw)
    except ValueError:
        raise BedrockError(
            "ValidationException", f"1 validation error detected: Value '{raw}' at '{where}' could not be parsed."
        ) from None
    return raw


def request_params(
    operation: OperationModel, labels: Mapping[str, str], query: list[tuple[str, str]], body: Any
) -> dict[str, Any]:
    """The operation's input as one dict: body members, URI labels and query parameters, typed."""
    shape = operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    if body is not None:
        if not isinstance(body, dict):
            raise BedrockError("ValidationException", "The request body must be a JSON object.")
        params.update(body)
    by_location: dict[tuple[str, str], tuple[str, Shape]] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location in ("uri", "querystring"):
            by_location[(location, member.serialization.get("name", name))] = (name, member)
    for label, value in labels.items():
        name, member = by_location[("uri", label)]
        params[name] = _from_text(member, value, name)
    for key, value in query:
        if ("querystring", key) in by_location:
            name, member = by_location[("querystring", key)]
            params[name] = _from_text(member, value, name)
    return params


# -- constraint validation, worded as AWS's request validation words it -----------------------------------


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a few models use \p{L}; none of the emulated operations do
        log.debug("pattern not checkable with Python's re: %s", pattern)
        return None


def _shown(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


def _check(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    def fail(constraint: str) -> None:
        problems.append(f"Value {_shown(value)} at '{where}' failed to satisfy constraint: Member must {constraint}")

    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return
        if not isinstance(value, dict):
            fail("be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{join(where, name)}' failed to satisfy constraint: Member must not be null"
                )
        if meta.get("union") and sum(1 for name in shape.members if value.get(name) is not None) != 1:
            fail("have exactly one member set")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], join(where, name), problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            fail("be a list")
            return
        _length(meta, len(value), fail)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{where}.{index}.member", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            fail("be a map")
            return
        _length(meta, len(value), fail)
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", problems)
            _check(shape.value, item, f"{where}.{key}", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            fail("be a string")
            return
        if shape.enum and value not in shape.enum:
            fail(f"satisfy enum value set: [{', '.join(shape.enum)}]")
        _length(meta, len(value), fail)
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and not compiled.fullmatch(value):
            fail(f"satisfy regular expression pattern: {meta['pattern']}")
        return
    if kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("be a number")
            return
        if "min" in meta and value < meta["min"]:
            fail(f"have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"have value less than or equal to {meta['max']}")
        return
    if kind == "boolean" and not isinstance(value, bool):
        fail("be a boolean")


def _length(meta: Mapping[str, Any], length: int, fail: Any) -> None:
    if "min" in meta and length < meta["min"]:
        fail(f"have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        fail(f"have length less than or equal to {meta['max']}")


def join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def validate_input(operation: OperationModel, params: Mapping[str, Any]) -> None:
    """Raise ValidationException for every broken constraint of the input shape (required, enum, length,
    pattern, range), in the "N validation errors detected: ..." form AWS uses."""
    shape = operation.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, dict(params), "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise BedrockError("ValidationException", f"{count} validation {noun} detected: {'; '.join(problems)}")


def constraint_problem(shape_name: str, service: str, value: Any, where: str) -> str | None:
    """The first constraint `value` breaks for a named shape (for checks outside a whole input)."""
    problems: list[str] = []
    _check(service_model(service).shape_for(shape_name), value, where, problems)
    return problems[0] if problems else None
