"""OpenAI's chat fine-tuning format checks, done right.

The checks of OpenAI's cookbook "Data preparation and analysis for chat model fine-tuning", under the same
names, with its known mistakes fixed:
- `"weight": 0` on an assistant message is valid (the cookbook crashes on it while counting tokens); a
  weight must be exactly the integer 0 or 1 (not true/false, not 1.0) and only assistant messages may carry one;
- content must be a string that is not blank: the cookbook lets whitespace-only content through, and flags
  an assistant message that has a function/tool call but no content, which the API accepts;
- an example needs at least one assistant message that is trained on (weight 1 or no weight);
- a `name` must be what the chat API accepts: 1 to 64 letters, digits, "_" or "-";
- tool-call messages (`tool_calls`, role "tool" with `tool_call_id`) are recognised, as the API accepts them.

`format_errors(record)` returns the names of the checks a record fails (empty when valid). Token limits are
checked separately (`labeltune.dataset.tokens`), as the cookbook does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The cookbook's names for its checks, plus the fixes' own.
DATA_TYPE = "data_type"
MISSING_MESSAGES_LIST = "missing_messages_list"
EXAMPLE_UNRECOGNIZED_KEY = "example_unrecognized_key"
MESSAGE_NOT_OBJECT = "message_not_object"
MESSAGE_MISSING_KEY = "message_missing_key"
MESSAGE_UNRECOGNIZED_KEY = "message_unrecognized_key"
UNRECOGNIZED_ROLE = "unrecognized_role"
MISSING_CONTENT = "missing_content"
INVALID_NAME = "invalid_name"
INVALID_WEIGHT = "invalid_weight"
EXAMPLE_MISSING_ASSISTANT_MESSAGE = "example_missing_assistant_message"
NO_TRAINED_ASSISTANT_MESSAGE = "no_trained_assistant_message"

EXAMPLE_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # what the chat API accepts as a participant's name


_OBJECT = (dict, Mapping)  # dict first: a plain isinstance(x, Mapping) is an ABC check, per message


def _has_call(message: Mapping[str, Any]) -> bool:
    return bool(message.get("function_call") or message.get("tool_calls"))


def _blank(text: str) -> bool:
    return not text or text.isspace()  # isspace stops at the first visible character: no copy, unlike strip()


def message_errors(message: Any) -> list[str]:
    if not isinstance(message, _OBJECT):
        return [MESSAGE_NOT_OBJECT]
    errors = []
    role = message.get("role")
    if "role" not in message or ("content" not in message and not (role == "assistant" and _has_call(message))):
        errors.append(MESSAGE_MISSING_KEY)
    if not MESSAGE_KEYS.issuperset(message):
        errors.append(MESSAGE_UNRECOGNIZED_KEY)
    if role not in ROLES:
        errors.append(UNRECOGNIZED_ROLE)
    content = message.get("content")
    if isinstance(content, str):
        if _blank(content):
            errors.append(MISSING_CONTENT)
    elif not (role == "assistant" and content is None and _has_call(message)):
        errors.append(MISSING_CONTENT)
    if "name" in message and not (isinstance(message["name"], str) and _NAME.fullmatch(message["name"])):
        errors.append(INVALID_NAME)
    if "weight" in message:
        weight = message["weight"]
        if role != "assistant" or type(weight) is not int or weight not in (0, 1):  # not True, not 1.0
            errors.append(INVALID_WEIGHT)
    return errors


def format_errors(record: Any) -> list[str]:
    """The checks `record` (one parsed JSONL line) fails, each named once, in check order."""
    if not isinstance(record, _OBJECT):
        return [DATA_TYPE]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return [MISSING_MESSAGES_LIST]
    errors: list[str] = []
    if not EXAMPLE_KEYS.issuperset(record):
        errors.append(EXAMPLE_UNRECOGNIZED_KEY)
    trained = assistants = 0
    for message in messages:
        if type(message) is dict and len(message) == 2:  # fast path: exactly {"role", "content"}, both fine
            role, content = message.get("role"), message.get("content")
            if role in ROLES and type(content) is str and content and not content.isspace():  # not _blank
                if role == "assistant":
                    assistants += 1
                    trained += 1
                continue
        found = message_errors(message)
        if found:
            errors.extend(error for error in found if error not in errors)
        if isinstance(message, _OBJECT) and message.get("role") == "assistant":
            assistants += 1
            trained += message.get("weight", 1) != 0
    if not assistants:
        errors.append(EXAMPLE_MISSING_ASSISTANT_MESSAGE)
    elif not trained:
        errors.append(NO_TRAINED_ASSISTANT_MESSAGE)
    return errors
