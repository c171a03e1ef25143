"""Token counting with the base model's encoding, and the per-example limits."""

from __future__ import annotations

from typing import Any

import pytest

from labeltune.dataset.tokens import (
    DEFAULT_EXAMPLE_LIMIT,
    TokenCounter,
    base_model_of,
    encoding_name_for,
    example_limit_for,
)

from .openai_rules import cookbook_tokens


@pytest.mark.parametrize(
    "model,base",
    [
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini-2025-04-14"),
        ("ft:gpt-4.1-mini-2025-04-14:acme::AbC123", "gpt-4.1-mini-2025-04-14"),
        ("ft:gpt-4o-mini-2024-07-18:acme:run-1:AbC123", "gpt-4o-mini-2024-07-18"),
        (" gpt-4o ", "gpt-4o"),
    ],
)
def test_base_model_of(model: str, base: str) -> None:
    assert base_model_of(model) == base


@pytest.mark.parametrize(
    "model,encoding",
    [
        ("gpt-4.1-mini-2025-04-14", "o200k_base"),
        ("gpt-4.1-2025-04-14", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("ft:gpt-4.1-mini-2025-04-14:acme::AbC123", "o200k_base"),  # encoding_for_model says cl100k_base here
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::x", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("some-new-model", "o200k_base"),
    ],
)
def test_the_encoding_comes_from_the_base_model(model: str, encoding: str) -> None:
    assert encoding_name_for(model) == encoding


def test_tiktoken_itself_gets_fine_tuned_names_wrong() -> None:
    """Why tokens.py exists: if this starts failing, tiktoken fixed it and the table could go."""
    import tiktoken

    assert tiktoken.model.encoding_name_for_model("ft:gpt-4.1-mini-2025-04-14:acme::x") == "cl100k_base"


@pytest.mark.parametrize(
    "model,limit",
    [
        ("gpt-4.1-mini-2025-04-14", 65_536),
        ("ft:gpt-4o-2024-08-06:acme::x", 65_536),
        ("gpt-3.5-turbo-0125", 16_385),
        ("gpt-3.5-turbo-0613", 4_096),
        ("unknown-model", DEFAULT_EXAMPLE_LIMIT.tokens),
    ],
)
def test_example_limits(model: str, limit: int) -> None:
    assert example_limit_for(model).tokens == limit


def test_the_configured_limit_wins() -> None:
    limit = example_limit_for("gpt-4.1-mini-2025-04-14", 2_048)
    assert limit.tokens == 2_048 and "configuration" in limit.source


def test_counts_are_o200k_and_the_cookbook_rule() -> None:
    counter = TokenCounter("ft:gpt-4.1-mini-2025-04-14:acme::x")
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Summarise the chat."},
        {"role": "user", "content": "Ann Lee: my order ORD-123456 never came 🙂 <|endoftext|>", "name": "ann"},
        {"role": "assistant", "content": "Order not delivered.", "weight": 1},
    ]
    assert counter.encoding_name == "o200k_base"
    assert counter.example(messages) == cookbook_tokens(messages)
    assert counter.count("hello world") == 2
