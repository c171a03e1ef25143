"""Token counting with the base model's own encoding, and the base model's per-example token limit.

Why not `tiktoken.encoding_for_model(model)`: for a fine-tuned model name ("ft:gpt-4.1-mini-...:org::id")
it answers cl100k_base, while gpt-4o and gpt-4.1 use o200k_base. The encoding is chosen here from the
*base* model, with the ft: wrapper removed first.

Offline use: tiktoken downloads an encoding file on first use unless `$TIKTOKEN_CACHE_DIR` holds it.
labeltune ships o200k_base (the file tiktoken itself caches, verified by its sha256 on load) in
`dataset/encodings/` and points tiktoken there when `$TIKTOKEN_CACHE_DIR` is unset, so Lambda cold starts,
the local demo and CI never download it.

How an example is counted (the OpenAI cookbook's `num_tokens_from_messages`, the rule OpenAI's own
estimates follow): every message costs 3 tokens of framing plus the tokens of its role and content (and 1 +
the tokens of its name, when it has one), and 3 more tokens close the example.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_EXAMPLE = 3

# Encodings by base model name prefix; the longest matching prefix wins (gpt-4o before gpt-4).
# Source: tiktoken.model.MODEL_PREFIX_TO_ENCODING (tiktoken 0.14), restated so "ft:" names cannot reach it.
ENCODING_BY_PREFIX: Mapping[str, str] = {
    "gpt-5": "o200k_base",
    "gpt-4.5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base",
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
}
DEFAULT_ENCODING = "o200k_base"
"""For a base model not in the table (e.g. a new OpenAI family): the encoding of every current OpenAI model."""


@dataclass(frozen=True)
class ExampleLimit:
    tokens: int
    source: str


# The longest training example each base model accepts, by name prefix (longest prefix wins). Sources:
# OpenAI's fine-tuning guide (gpt-4o-mini-2024-07-18: 65,536 tokens per training example; gpt-3.5-turbo-0125
# and -1106: 16,385; -0613: 4,096) and Azure OpenAI's fine-tuning model table ("Training example context
# length: 65,536" for gpt-4o-2024-08-06, gpt-4o-mini-2024-07-18 and gpt-4.1-2025-04-14). gpt-4.1-mini and
# -nano are taken to share gpt-4.1's limit. A project can set its own (max_tokens_per_example).
_GPT4_TRAINING_LIMIT = ExampleLimit(65_536, "OpenAI / Azure OpenAI fine-tuning docs: training example context length")
EXAMPLE_TOKEN_LIMITS: Mapping[str, ExampleLimit] = {
    "gpt-4.1": _GPT4_TRAINING_LIMIT,
    "gpt-4o": _GPT4_TRAINING_LIMIT,
    "gpt-3.5-turbo-0613": ExampleLimit(4_096, "OpenAI fine-tuning guide"),
    "gpt-3.5-turbo": ExampleLimit(16_385, "OpenAI fine-tuning guide"),
    "gpt-35-turbo": ExampleLimit(16_385, "Azure OpenAI fine-tuning model table"),
}
DEFAULT_EXAMPLE_LIMIT = ExampleLimit(16_385, "default for unknown models: the OpenAI cookbook's warning threshold")

_FT_NAME = re.compile(r"^ft:(?P<base>[^:]+)")


def base_model_of(model: str) -> str:
    """The base model of a model name: "ft:gpt-4.1-mini-2025-04-14:org:suffix:id" -> "gpt-4.1-mini-2025-04-14"."""
    match = _FT_NAME.match(model.strip())
    return match.group("base") if match else model.strip()


def _longest_prefix(model: str, table: Mapping[str, Any]) -> Any | None:
    matches = [prefix for prefix in table if model.startswith(prefix)]
    return table[max(matches, key=len)] if matches else None


def encoding_name_for(model: str) -> str:
    return _longest_prefix(base_model_of(model), ENCODING_BY_PREFIX) or DEFAULT_ENCODING


def is_known_model(model: str) -> bool:
    return _longest_prefix(base_model_of(model), ENCODING_BY_PREFIX) is not None


def example_limit_for(model: str, override: int | None = None) -> ExampleLimit:
    """The per-example token limit: the configured override, else the base model's, else the default."""
    if override is not None:
        return ExampleLimit(override, "project configuration (max_tokens_per_example)")
    return _longest_prefix(base_model_of(model), EXAMPLE_TOKEN_LIMITS) or DEFAULT_EXAMPLE_LIMIT


class EncodingUnavailable(RuntimeError):
    """tiktoken could neither find the encoding file in its cache nor download it."""


BUNDLED_ENCODINGS = Path(__file__).resolve().parent / "encodings"


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    import tiktoken  # loading an encoding takes a moment: only when tokens are first counted

    if not os.environ.get("TIKTOKEN_CACHE_DIR"):  # unset or empty (tiktoken reads "" as "do not cache")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(BUNDLED_ENCODINGS)
    try:
        return tiktoken.get_encoding(name)
    except Exception as error:  # a download failure surfaces as requests/urllib errors
        raise EncodingUnavailable(
            f"cannot load the {name} token encoding ({type(error).__name__}); offline, point "
            f"TIKTOKEN_CACHE_DIR at a directory holding it (labeltune ships o200k_base in {BUNDLED_ENCODINGS})"
        ) from error


class TokenCounter:
    """Counts tokens the way the base model sees them. Text is encoded as ordinary text: a literal
    "<|endoftext|>" in a chat is counted as the characters it is, as the fine-tuning service treats it."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.base_model = base_model_of(model)
        self.encoding_name = encoding_name_for(model)
        self.encode = _encoding(self.encoding_name).encode_ordinary
        """text -> token ids (for hot loops: `len(encode(text))` saves a call per text over `count`)."""

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def message(self, message: Mapping[str, Any]) -> int:
        """Tokens of one chat message (framing, role, content, name); non-text fields count nothing."""
        tokens = TOKENS_PER_MESSAGE
        for key in ("role", "content"):
            value = message.get(key)
            if isinstance(value, str):
                tokens += self.count(value)
        name = message.get("name")
        if isinstance(name, str):
            tokens += TOKENS_PER_NAME + self.count(name)
        return tokens

    def example(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of a whole example, as billed and as checked against the per-example limit."""
        return TOKENS_PER_EXAMPLE + sum(self.message(m) for m in messages)
