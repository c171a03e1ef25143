"""The builder's OpenAI format checks (the cookbook's, with its mistakes fixed), cross-checked against the
independent rules in openai_rules.py."""

from __future__ import annotations

from typing import Any

import pytest

from labeltune.dataset.validation import (
    DATA_TYPE,
    EXAMPLE_MISSING_ASSISTANT_MESSAGE,
    EXAMPLE_UNRECOGNIZED_KEY,
    INVALID_NAME,
    INVALID_WEIGHT,
    MESSAGE_MISSING_KEY,
    MESSAGE_NOT_OBJECT,
    MESSAGE_UNRECOGNIZED_KEY,
    MISSING_CONTENT,
    MISSING_MESSAGES_LIST,
    NO_TRAINED_ASSISTANT_MESSAGE,
    UNRECOGNIZED_ROLE,
    format_errors,
)

from .openai_rules import example_problems


def chat(*messages: Any) -> dict[str, Any]:
    return {"messages": list(messages)}


SYSTEM = {"role": "system", "content": "Summarise."}
USER = {"role": "user", "content": "Ann: my order is late."}
ASSISTANT = {"role": "assistant", "content": "A late order."}


VALID = [
    chat(SYSTEM, USER, ASSISTANT),
    chat(USER, ASSISTANT),
    chat(SYSTEM, USER, {**ASSISTANT, "weight": 0}, USER, {**ASSISTANT, "weight": 1}),  # the cookbook crashes here
    chat(SYSTEM, {**USER, "name": "ann"}, ASSISTANT),
]


@pytest.mark.parametrize("record", VALID)
def test_valid_examples(record: dict[str, Any]) -> None:
    assert format_errors(record) == []
    assert example_problems(record) == []  # and the independent rules agree


@pytest.mark.parametrize(
    "record,error",
    [
        ([], DATA_TYPE),
        ("text", DATA_TYPE),
        ({}, MISSING_MESSAGES_LIST),
        ({"messages": []}, MISSING_MESSAGES_LIST),
        ({"messages": "hi"}, MISSING_MESSAGES_LIST),
        ({**chat(USER, ASSISTANT), "data_row_id": "dr-1"}, EXAMPLE_UNRECOGNIZED_KEY),
        (chat(USER, "not an object", ASSISTANT), MESSAGE_NOT_OBJECT),
        (chat({"content": "no role"}, ASSISTANT), MESSAGE_MISSING_KEY),
        (chat({"role": "user"}, ASSISTANT), MESSAGE_MISSING_KEY),
        (chat({**USER, "tone": "angry"}, ASSISTANT), MESSAGE_UNRECOGNIZED_KEY),
        (chat({"role": "customer", "content": "hi"}, ASSISTANT), UNRECOGNIZED_ROLE),
        (chat({"role": "user", "content": ""}, ASSISTANT), MISSING_CONTENT),
        (chat({"role": "user", "content": "  \n\t"}, ASSISTANT), MISSING_CONTENT),  # the cookbook misses this
        (chat({"role": "user", "content": None}, ASSISTANT), MISSING_CONTENT),
        (chat({"role": "user", "content": ["parts"]}, ASSISTANT), MISSING_CONTENT),
        (chat({**USER, "name": ""}, ASSISTANT), INVALID_NAME),
        (chat(USER, {**ASSISTANT, "weight": 2}), INVALID_WEIGHT),
        (chat(USER, {**ASSISTANT, "weight": True}), INVALID_WEIGHT),
        (chat(USER, {**ASSISTANT, "weight": 1.0}), INVALID_WEIGHT),
        (chat({**USER, "weight": 1}, ASSISTANT), INVALID_WEIGHT),
        (chat(SYSTEM, USER), EXAMPLE_MISSING_ASSISTANT_MESSAGE),
        (chat(USER, {**ASSISTANT, "weight": 0}), NO_TRAINED_ASSISTANT_MESSAGE),
    ],
)
def test_each_check(record: Any, error: str) -> None:
    assert error in format_errors(record)
    assert example_problems(record) != []  # the independent rules reject it too


def test_an_assistant_tool_call_needs_no_content() -> None:
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]}
    assert format_errors(chat(USER, call, {"role": "tool", "content": "42", "tool_call_id": "c1"}, ASSISTANT)) == []


def test_errors_are_named_once() -> None:
    record = chat({"role": "user", "content": ""}, {"role": "user", "content": " "}, ASSISTANT)
    assert format_errors(record) == [MISSING_CONTENT]
