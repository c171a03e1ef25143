"""Checks of Nova fine-tuning data (`bedrock-conversation-2024` JSONL), applied while a job validates.

Bedrock accepts a job whose data is bad and fails it later, with `status: Failed` and a
`failureMessage`; the emulator does the same, so the pipeline's failure branch is exercised the way
production exercises it. The rules are those of Nova's data preparation guide: one JSON object per line,
`schemaVersion`, optional `system: [{"text"}]`, `messages` alternating user/assistant (first user,
last assistant) with `content: [{"text"}]`, no reserved keywords, record counts within the model's
bounds. The wording of the messages is the emulator's own; AWS's exact text is not reproduced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labeltune_tools.emulator.training import Example, approx_tokens

SCHEMA_VERSION = "bedrock-conversation-2024"
RESERVED_KEYWORDS = ("User:", "Assistant:", "[EOS]")
ROLES = ("user", "assistant")


@dataclass(frozen=True)
class DatasetCheck:
    """The examples of a data file, or why Bedrock would reject it."""

    examples: tuple[Example, ...]
    error: str | None


class _Invalid(Exception):
    pass


def _texts(blocks: Any, where: str) -> str:
    if not isinstance(blocks, list) or not blocks:
        raise _Invalid(f"{where}: 'content' must be a non-empty list of content blocks.")
    texts = []
    for index, block in enumerate(blocks, start=1):
        if not isinstance(block, dict):
            raise _Invalid(f"{where}, content block {index}: expected a JSON object.")
        if "text" not in block:
            kinds = ", ".join(sorted(block)) or "an empty block"
            raise _Invalid(f"{where}, content block {index}: only text blocks are emulated (got {kinds}).")
        if not isinstance(block["text"], str) or not block["text"].strip():
            raise _Invalid(f"{where}, content block {index}: 'text' must be a non-empty string.")
        texts.append(block["text"])
    return "\n".join(texts)


def _check_reserved(text: str, where: str) -> None:
    for keyword in RESERVED_KEYWORDS:
        if keyword in text:
            raise _Invalid(f"{where} contains the reserved keyword '{keyword}', which is not allowed in training data.")


def _record(line_no: int, line: str) -> Example:
    where = f"Line {line_no}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _Invalid(f"{where} is not valid JSON ({error.msg}); the file must be JSONL, one object a line.") from None
    if not isinstance(record, dict):
        raise _Invalid(f"{where}: expected a JSON object, got {type(record).__name__}.")
    if record.get("schemaVersion") != SCHEMA_VERSION:
        raise _Invalid(f"{where}: 'schemaVersion' must be '{SCHEMA_VERSION}' (got {record.get('schemaVersion')!r}).")
    if "system" in record:
        system = record["system"]
        if not isinstance(system, list):
            raise _Invalid(f"{where}: 'system' must be a list of text blocks.")
        _check_reserved(_texts(system, f"{where}, system") if system else "", f"{where}, system")
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid(f"{where}: 'messages' must be a non-empty list.")
    users: list[str] = []
    assistants: list[str] = []
    for index, message in enumerate(messages, start=1):
        at = f"{where}, message {index}"
        if not isinstance(message, dict):
            raise _Invalid(f"{at}: expected a JSON object.")
        role = message.get("role")
        if role not in ROLES:
            raise _Invalid(f"{at}: 'role' must be 'user' or 'assistant' (got {role!r}).")
        expected = ROLES[(index - 1) % 2]
        if role != expected:
            raise _Invalid(
                f"{at}: roles must alternate user/assistant, starting with user (expected {expected!r}, got {role!r})."
            )
        text = _texts(message.get("content"), at)
        _check_reserved(text, at)
        (users if role == "user" else assistants).append(text)
    if messages[-1].get("role") != "assistant":
        raise _Invalid(f"{where}: the last message must be from the assistant.")
    tokens = sum(approx_tokens(text) for text in users + assistants)
    return Example(user=users[-1], assistant=assistants[-1], tokens=tokens)


def check_dataset(
    content: bytes, *, uri: str, model_id: str, min_records: int | None, max_records: int | None
) -> DatasetCheck:
    """Parse and check a data file; `min_records`/`max_records` None skips that bound."""
    prefix = f"Data validation failed for {uri}:"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return DatasetCheck((), f"{prefix} the file is not UTF-8 text (byte {error.start}).")
    examples: list[Example] = []
    try:
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                examples.append(_record(line_no, line))
    except _Invalid as problem:
        return DatasetCheck((), f"{prefix} {problem}")
    count = len(examples)
    if min_records is not None and count < min_records:
        return DatasetCheck((), f"{prefix} the file has {count} records; {model_id} needs at least {min_records}.")
    if max_records is not None and count > max_records:
        return DatasetCheck((), f"{prefix} the file has {count} records; {model_id} accepts at most {max_records}.")
    return DatasetCheck(tuple(examples), None)
