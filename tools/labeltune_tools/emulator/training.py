"""Training-file checks and sizing, as OpenAI applies them while a job is `validating_files`.

The rules follow OpenAI's chat fine-tuning format and the checks of its data-preparation cookbook
(missing messages list, unrecognised keys/roles, missing content, no assistant message, fewer than
10 examples). A bad file therefore fails in the emulator the way it would fail on the real service:
as a job that ends `failed` with `error.code == "invalid_training_file"`, not as an upload error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MIN_EXAMPLES = 10
ALLOWED_ROLES = ("system", "user", "assistant")
ALLOWED_MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})

# The cookbook's default-epoch heuristic (what "n_epochs": "auto" resolves to).
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

# Approximate tokens: words and single punctuation marks. Close to o200k_base for English prose,
# but only an approximation; the emulator stays dependency-free rather than exact.
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
TOKENS_PER_MESSAGE = 3
TOKENS_PER_CONVERSATION = 3


def approx_tokens(text: str) -> int:
    """Rough token count of a string (see `_TOKEN`)."""
    return len(_TOKEN.findall(text))


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the approximate tokens, to cut text at a token budget."""
    return [match.span() for match in _TOKEN.finditer(text)]


def conversation_tokens(messages: list[dict[str, Any]]) -> int:
    """Approximate tokens of a chat, with per-message overhead like the cookbook's counter."""
    total = TOKENS_PER_CONVERSATION
    for message in messages:
        total += TOKENS_PER_MESSAGE + approx_tokens(message_text(message))
    return total


def message_text(message: dict[str, Any]) -> str:
    """Text of a message whose content is a string or a list of `{"type": "text", "text": ...}` parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


@dataclass(frozen=True)
class Example:
    """One training conversation, reduced to what the emulated fine-tuned model needs."""

    user: str
    assistant: str
    tokens: int


@dataclass(frozen=True)
class FileCheck:
    """Result of checking a training or validation file: examples, or the first problem found."""

    examples: tuple[Example, ...]
    error: str | None

    @property
    def tokens(self) -> int:
        return sum(example.tokens for example in self.examples)


class _Invalid(Exception):
    pass


def _check_message(line_no: int, index: int, message: Any) -> None:
    where = f"Line {line_no}, message {index}"
    if not isinstance(message, dict):
        raise _Invalid(f"{where}: expected a JSON object, got {type(message).__name__}.")
    unknown = sorted(set(message) - ALLOWED_MESSAGE_KEYS)
    if unknown:
        raise _Invalid(f"{where}: unrecognized key(s) {', '.join(map(repr, unknown))}.")
    if "role" not in message:
        raise _Invalid(f"{where}: missing required key 'role'.")
    role = message["role"]
    if role not in ALLOWED_ROLES:
        raise _Invalid(f"{where}: unrecognized role {role!r}; expected one of {', '.join(ALLOWED_ROLES)}.")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _Invalid(f"{where}: 'content' must be a non-empty string.")
    if "weight" in message:
        if role != "assistant":
            raise _Invalid(f"{where}: 'weight' is only allowed on assistant messages.")
        if message["weight"] not in (0, 1) or isinstance(message["weight"], bool):
            raise _Invalid(f"{where}: 'weight' must be 0 or 1.")


def _parse_line(line_no: int, line: str) -> Example:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _Invalid(f"Line {line_no}: not valid JSON ({error.msg}).") from None
    if not isinstance(record, dict):
        raise _Invalid(f"Line {line_no}: expected a JSON object, got {type(record).__name__}.")
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid(f"Line {line_no}: missing 'messages' list.")
    for index, message in enumerate(messages, start=1):
        _check_message(line_no, index, message)
    assistants = [m["content"] for m in messages if m["role"] == "assistant"]
    if not assistants:
        raise _Invalid(f"Line {line_no}: example has no assistant message.")
    users = [m["content"] for m in messages if m["role"] == "user"]
    return Example(user=users[-1] if users else "", assistant=assistants[-1], tokens=conversation_tokens(messages))


def check_file(content: bytes, *, min_examples: int = MIN_EXAMPLES, label: str = "Training file") -> FileCheck:
    """Check a chat-format JSONL file; the error message names the first bad line."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return FileCheck((), f"File is not valid UTF-8 (byte {error.start}).")
    examples: list[Example] = []
    try:
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                examples.append(_parse_line(line_no, line))
    except _Invalid as problem:
        return FileCheck((), f"Invalid file format. {problem}")
    if len(examples) < min_examples:
        return FileCheck((), f"{label} has {len(examples)} example(s), but must have at least {min_examples} examples.")
    return FileCheck(tuple(examples), None)


def default_epochs(n_examples: int) -> int:
    """What `n_epochs: "auto"` resolves to, per the cookbook heuristic."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def default_batch_size(n_examples: int) -> int:
    """What `batch_size: "auto"` resolves to: about 0.2% of the examples, 1..256 (an emulator choice)."""
    return max(1, min(256, math.ceil(n_examples * 0.002)))


DEFAULT_LEARNING_RATE_MULTIPLIER = 1.8
