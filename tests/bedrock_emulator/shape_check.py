"""Check what the emulator sent against botocore's service model, the way boto3 will read it.

Each recorded response is parsed with botocore's own parser for the service's protocol and the
operation's output shape (or, for an error, the modelled error shape its code names). The parsed result
is then checked recursively against the shape (required members present, Python types as botocore
produces them), and the raw JSON too: botocore drops members it does not know and does not check
enums, patterns or lengths, so a misspelt optional member or an out-of-pattern ARN would pass boto3
silently and fail against real consumers.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser

from labeltune_tools.bedrock_emulator import Exchange
from labeltune_tools.bedrock_emulator.errors import UNKNOWN_OPERATION
from labeltune_tools.bedrock_emulator.service_model import service_model

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (float,),
    "double": (float,),
    "boolean": (bool,),
    "timestamp": (datetime,),
    "blob": (bytes,),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
}


def _as_any(value: Any) -> Any:
    return value


def check_parsed(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Problems of a botocore-parsed value against its shape: types and required members."""
    if shape.type_name == "structure" and shape.metadata.get("document"):
        return []
    expected = _PYTHON_TYPES[shape.type_name]
    if not isinstance(value, expected) or (shape.type_name in ("integer", "long") and isinstance(value, bool)):
        return [f"{path}: expected {shape.type_name}, got {type(value).__name__} {value!r}"]
    value = _as_any(value)  # isinstance against a tuple of types narrows to `object`
    problems: list[str] = []
    if shape.type_name == "structure":
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"{path}.{name}: required member missing")
        if shape.metadata.get("union") and len([k for k in value if k in shape.members]) != 1:
            problems.append(f"{path}: a union must have exactly one member, got {sorted(value)}")
        for name, member in shape.members.items():
            if name in value:
                problems += check_parsed(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += check_parsed(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            problems += check_parsed(shape.key, key, f"{path}.<key>")
            problems += check_parsed(shape.value, item, f"{path}.{key}")
    return problems


def _body_members(shape: Shape) -> dict[str, tuple[str, Shape]]:
    """JSON name -> (member name, shape), for the members that travel in the body."""
    return {
        member.serialization.get("name", name): (name, member)
        for name, member in shape.members.items()
        if member.serialization.get("location") is None
    }


def _pattern_matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return True  # a Java-only construct (\p{L}); not used by the emulated operations


def check_raw(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Problems of the raw JSON against the shape: unknown members, JSON types, enum, pattern, lengths, ranges."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if meta.get("document"):
            return []
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        members = _body_members(shape)
        problems = [f"{path}.{key}: not a member of {shape.name}" for key in value if key not in members]
        for name in shape.required_members:
            if shape.members[name].serialization.get("location") is None and value.get(name) is None:
                problems.append(f"{path}.{name}: required member missing")
        if meta.get("union") and len(value) != 1:
            problems.append(f"{path}: a union must have exactly one member, got {sorted(value)}")
        for key, item in value.items():
            if key in members:
                problems += check_raw(members[key][1], item, f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        problems = _lengths(meta, len(value), path)
        for index, item in enumerate(value):
            problems += check_raw(shape.member, item, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected an object (map), got {value!r}"]
        problems = _lengths(meta, len(value), path)
        for key, item in value.items():
            problems += check_raw(shape.key, key, f"{path}.<key>")
            problems += check_raw(shape.value, item, f"{path}.{key}")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        problems = _lengths(meta, len(value), path)
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        if "pattern" in meta and not _pattern_matches(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        return problems
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer, got {value!r}"]
        return _range(meta, value, path)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{path}: expected a number, got {value!r}"]
        return _range(meta, value, path)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return []
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return []
            except ValueError:
                pass
        return [f"{path}: expected an ISO 8601 timestamp, got {value!r}"]
    return []


def _lengths(meta: dict[str, Any], length: int, path: str) -> list[str]:
    problems = []
    if "min" in meta and length < meta["min"]:
        problems.append(f"{path}: length {length} < min {meta['min']}")
    if "max" in meta and length > meta["max"]:
        problems.append(f"{path}: length {length} > max {meta['max']}")
    return problems


def _range(meta: dict[str, Any], value: float, path: str) -> list[str]:
    problems = []
    if "min" in meta and value < meta["min"]:
        problems.append(f"{path}: {value} < min {meta['min']}")
    if "max" in meta and value > meta["max"]:
        problems.append(f"{path}: {value} > max {meta['max']}")
    return problems


def _response(exchange: Exchange) -> dict[str, Any]:
    headers = HeadersDict()
    for name, value in exchange.headers.items():
        headers[name] = value
    return {"status_code": exchange.status, "headers": headers, "body": exchange.body}


def verify_exchange(exchange: Exchange, *, strict_errors: bool = True) -> list[str]:
    """Every problem botocore's model finds with one recorded response (an empty list: it conforms).

    `strict_errors`: an error's code must be one the operation declares (injected faults may use other
    codes of the service; pass False for those).
    """
    where = f"{exchange.method} {exchange.path} ({exchange.operation}, {exchange.status})"
    if exchange.headers.get("Content-Type") != "application/json":
        return [f"{where}: Content-Type is {exchange.headers.get('Content-Type')!r}"]
    if exchange.operation is None or exchange.service is None:
        ok = exchange.status == 404 and exchange.headers.get("x-amzn-ErrorType") == UNKNOWN_OPERATION
        return [] if ok else [f"{where}: an unrouted request must get 404 {UNKNOWN_OPERATION}"]
    model = service_model(exchange.service)
    operation: OperationModel = model.operation_model(exchange.operation)
    parser = create_parser(model.metadata["protocol"])
    raw = json.loads(exchange.body)
    if exchange.status < 300:
        problems = []
        expected_status = int(operation.http.get("responseCode", 200))
        if exchange.status != expected_status:
            problems.append(f"{where}: status {exchange.status}, the model says {expected_status}")
        try:
            parsed = parser.parse(_response(exchange), operation.output_shape)
        except Exception as error:  # what boto3 would raise to the caller
            return [*problems, f"{where}: botocore cannot parse the response: {error}"]
        parsed.pop("ResponseMetadata", None)
        if operation.output_shape is not None:
            problems += [f"{where}: parsed {p}" for p in check_parsed(operation.output_shape, parsed)]
            problems += [f"{where}: raw {p}" for p in check_raw(operation.output_shape, raw)]
        elif raw != {}:
            problems.append(f"{where}: the operation has no output, got {raw!r}")
        return problems
    parsed_error = parser.parse(_response(exchange), operation.output_shape)
    code = parsed_error.get("Error", {}).get("Code")
    if code == UNKNOWN_OPERATION:
        return [] if exchange.status == 404 else [f"{where}: {UNKNOWN_OPERATION} must be 404"]
    error_shapes = {shape.name: shape for shape in model.error_shapes}
    if code not in error_shapes:
        return [f"{where}: error code {code!r} is not an error shape of {exchange.service}"]
    shape = error_shapes[code]
    problems = []
    if strict_errors and code not in {s.name for s in operation.error_shapes}:
        problems.append(f"{where}: {exchange.operation} does not declare {code}")
    if exchange.status != shape.metadata["error"]["httpStatusCode"]:
        problems.append(f"{where}: {code} is {shape.metadata['error']['httpStatusCode']} in the model")
    modelled = parser.parse(_response(exchange), shape)
    problems += [f"{where}: parsed {p}" for p in check_parsed(shape, modelled)]
    problems += [f"{where}: raw {p}" for p in check_raw(shape, raw)]
    if not parsed_error["Error"].get("Message"):
        problems.append(f"{where}: error without a message")
    return problems
