"""JSON from outside (webhook bodies, API requests): parsed with bounds, refused with a reason, never a crash.

`json.loads` raises RecursionError (not a ValueError) on input nested about a thousand levels deep, and a
structure nested a few hundred levels deep parses but breaks whatever walks it later (pydantic, json.dumps,
DynamoDB's serializer). Nothing labeltune receives is legitimately deeper than a few levels, so input
deeper than `MAX_DEPTH` is refused at the door, like input that is not UTF-8 or not JSON.

Likewise a `\\ud800` escape is valid JSON syntax, but `json.loads` turns it into a lone surrogate: a string
that cannot be encoded as UTF-8, so every later write of it (DynamoDB, S3, a log line) fails. Input holding
one, as a value or as a key, is refused like input that is not UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # paired escapes decode to one code point: what is left is lone


class MalformedJson(ValueError):
    """The input is not UTF-8, not JSON, nested deeper than allowed, or holds an unpaired surrogate; the message
    says which."""


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply `value` nests lists and objects, counted up to `limit + 1` (iteratively: no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in `value` (a value or an object key) holds an unpaired surrogate."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value, or MalformedJson with a plain reason (no part of the input is echoed)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise MalformedJson("the body is not UTF-8 text") from error
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise MalformedJson(f"the JSON is nested deeper than {max_depth} levels") from error
    except ValueError as error:  # JSONDecodeError, and lone surrogates json cannot decode
        raise MalformedJson("the body is not valid JSON") from error
    if nesting_depth(value, max_depth) > max_depth:
        raise MalformedJson(f"the JSON is nested deeper than {max_depth} levels")
    if has_lone_surrogate(value):
        raise MalformedJson("the JSON holds text that is not valid Unicode (an unpaired surrogate escape)")
    return value


def parse_json_object(data: bytes | str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    value = parse_json(data, max_depth)
    if not isinstance(value, dict):
        raise MalformedJson("the body must be a JSON object")
    return value
