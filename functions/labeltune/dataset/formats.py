"""Training formats: how an example is written for the provider that trains on it, and what that provider
accepts. Everything provider-specific about a build's files sits behind `TrainingFormat`, chosen from the
project's provider by `training_format_for`, so the builder's per-row path reads the same for every provider.

What a format decides, per row and per build:
- `adapt`: the texts as they will be trained on, or the reason code that rejects the row (Bedrock rewrites
  speaker labels that are reserved words and rejects any other reserved word; OpenAI changes nothing);
- `record` and `problems`: the training line's record and the format checks it fails (a guard: rows that
  `adapt` let through should never fail them);
- `chat`: the record in the one neutral chat format eval.jsonl holds for every provider (what the
  evaluation step reads: a system, a user and an assistant message, OpenAI's shape);
- `fixed_tokens`: the tokens every example of a build has in common (framing and system prompt);
- `limits`: the record bounds, the longest record, and whether a validation file is taken.

Bedrock (Amazon Nova) facts used here, with their sources (/work/notes/bedrock_facts.md sections 1-4):
- the record is `bedrock-conversation-2024`: `{"schemaVersion", "system": [{"text"}], "messages": [{"role":
  "user", "content": [{"text"}]}, {"role": "assistant", ...}]}` (Nova user guide, "Preparing data for
  fine-tuning Understanding models");
- `User:`, `Bot:`, `Assistant:`, `System:`, `<image>`, `<video>` and `[EOS]` are reserved: a prompt that holds
  one fails the training job (same page). AWS's own dataset validator also refuses `Thought:` and `<unk>`, and
  checks every text (system, user, assistant) case-insensitively: so does this module;
- record bounds, the longest record and whether a validation set is taken come from the model catalog
  (`labeltune.catalog`, CatalogModel.min_records / max_records / max_record_tokens / validation_set);
- epochs: epochCount 1-5, default 2 (Bedrock user guide, "Amazon Nova Understanding model customization
  hyperparameters").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from labeltune.catalog import CatalogModel, ModelCatalog, load_catalog
from labeltune.dataset.report import EpochsSource, default_epochs
from labeltune.dataset.tokens import (
    TOKENS_PER_EXAMPLE,
    TOKENS_PER_MESSAGE,
    ExampleLimit,
    TokenCounter,
    example_limit_for,
)
from labeltune.dataset.validation import format_errors
from labeltune.domain.conversion import Reason
from labeltune.domain.project_config import ProjectConfig


@dataclass(frozen=True)
class RecordLimits:
    """What the provider accepts for one base model. None: not published, so not checked."""

    min_records: int | None
    max_records: int | None
    """Training and validation records together (how AWS's validator counts them)."""
    max_record_tokens: ExampleLimit | None
    validation_set: bool
    source: str


class Adapted(NamedTuple):
    """An example's texts as they will be trained on, and how many speaker labels were rewritten to get them."""

    prompt: str
    response: str
    rewritten: int


class TrainingFormat(ABC):
    """The provider-neutral part, and OpenAI's defaults: texts trained on as they are."""

    provider: str = ""
    name: str = ""
    token_note: str = ""
    limits: RecordLimits
    rules: Mapping[str, str] = {}

    def system_problem(self, system: str) -> str | None:
        """Why the configured system prompt cannot be used by this provider, or None."""
        return None

    def adapt(self, prompt: str, response: str) -> Adapted | str:
        """The texts to train on, or the reason code of a row this provider would refuse."""
        return Adapted(prompt, response, 0)

    @abstractmethod
    def fixed_tokens(self, counter: TokenCounter, system: str) -> int:
        """Tokens every example costs besides its texts (the format's framing and the system prompt)."""

    @abstractmethod
    def record(self, system: str, prompt: str, response: str) -> dict[str, Any]:
        """The line of train.jsonl / validation.jsonl for this example, as a JSON object."""

    @abstractmethod
    def problems(self, record: dict[str, Any]) -> list[str]:
        """The format checks `record` fails, by name (empty when it is valid)."""

    @abstractmethod
    def chat(self, record: dict[str, Any]) -> list[dict[str, str]]:
        """`record` in eval.jsonl's neutral format: the system, user and assistant messages."""

    @abstractmethod
    def epochs(self, n_train: int, configured: int | str) -> tuple[int, EpochsSource]:
        """The epochs the job will run: the configured number, else the provider's choice."""


def _messages(system: str, prompt: str, response: str) -> list[dict[str, str]]:
    """An example's chat, as OpenAI's chat fine-tuning format (and eval.jsonl) has it."""
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": response},
    ]


class OpenAIChat(TrainingFormat):
    """OpenAI's chat fine-tuning format, checked by `validation.format_errors` (the cookbook's checks)."""

    provider = "openai"
    name = "openai-chat"
    token_note = "the base model's own encoding, counted the way OpenAI's cookbook counts a chat example"
    rules = {
        "tokens": "cookbook num_tokens_from_messages: 3 per message + role + content (+1 + name), 3 per example",
        "epochs": "cookbook heuristic (TARGET_EPOCHS=3, MIN_TARGET_EXAMPLES=100, MAX_TARGET_EXAMPLES=25000, "
        "epochs within 1..25) unless the configuration sets n_epochs",
    }

    def __init__(self, config: ProjectConfig) -> None:
        limit = example_limit_for(config.base_model, config.max_tokens_per_example)
        self.limits = RecordLimits(None, None, limit, validation_set=True, source="")

    def fixed_tokens(self, counter: TokenCounter, system: str) -> int:
        """The example's and its three messages' framing, the three roles, and the system prompt."""
        return (
            TOKENS_PER_EXAMPLE
            + 3 * TOKENS_PER_MESSAGE
            + sum(counter.count(text) for text in ("system", "user", "assistant", system))
        )

    def record(self, system: str, prompt: str, response: str) -> dict[str, Any]:
        return {"messages": _messages(system, prompt, response)}

    def problems(self, record: dict[str, Any]) -> list[str]:
        return format_errors(record)

    def chat(self, record: dict[str, Any]) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = record["messages"]
        return messages

    def epochs(self, n_train: int, configured: int | str) -> tuple[int, EpochsSource]:
        if isinstance(configured, int):
            return configured, "project configuration"
        return default_epochs(n_train), "cookbook heuristic"


# --- Bedrock (Amazon Nova) -------------------------------------------------------------------------------

BEDROCK_SCHEMA_VERSION = "bedrock-conversation-2024"
DOCUMENTED_RESERVED_KEYWORDS = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
"""Nova user guide: reserved; a prompt holding one makes the training job fail."""
VALIDATOR_RESERVED_KEYWORDS = ("Thought:", "<unk>")
"""Refused by AWS's dataset validator (nova_ft_dataset_validator.py) besides the documented ones."""
RESERVED_KEYWORDS = DOCUMENTED_RESERVED_KEYWORDS + VALIDATOR_RESERVED_KEYWORDS
_RESERVED_LOWER = tuple(keyword.lower() for keyword in RESERVED_KEYWORDS)
BEDROCK_DEFAULT_EPOCHS = 2
"""epochCount's default (range 1-5): Bedrock user guide, Nova Understanding customization hyperparameters."""

# A speaker label at the start of a line that ends in a reserved word, as chat logs write turns ("User: ...",
# "Assistant: ...", "Chatbot: ...", "Virtual Assistant: ...", "[10:32] User: ...", "**User:**"). Its colon
# becomes " -": "User - ...". The speaker keeps the name the chat gave it (no role is invented, unlike
# "Customer"/"Agent"), and the text reads the same to a person and to the model, without the reserved word.
_SPEAKER_LABEL = re.compile(
    r"""^(
        [ \t>*_\#-]*                                                # indentation, quoting or list markup
        (?:\[[^\]\n]{0,40}\][ \t]*                                  # a bracketed time or id: [10:32]
          |\d{1,2}:\d{2}(?::\d{2})?[ \t]*(?:[ap]\.?m\.?)?[ \t]+)?   # or a bare time: 10:32, 10:32:05 pm
        (?:[^\W\d_][\w.'-]*[ \t]+){0,2}                            # up to two words before it: Virtual Assistant
        \w*?(?:user|bot|assistant|system|thought)                   # the label itself: User, Chatbot
    ):""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
SPEAKER_LABEL_REPLACEMENT = r"\1 -"
SPEAKER_LABEL_RULE = (
    "a speaker label at the start of a line that ends in a reserved word (User:, Bot:, Assistant:, System:, "
    "Thought:, in any case, e.g. 'User:', 'Chatbot:', 'Virtual Assistant:', '[10:32] User:') keeps its name and "
    "loses its colon: 'User - ...'; any other reserved keyword, anywhere in the chat, the summary or the system "
    "prompt, rejects the row (reserved_keyword)"
)


def reserved_keywords_in(text: str) -> list[str]:
    """The reserved keywords `text` holds, in any letter case (as AWS's validator compares them)."""
    lower = text.lower()
    return [keyword for keyword, low in zip(RESERVED_KEYWORDS, _RESERVED_LOWER, strict=True) if low in lower]


_COLON_WORDS = tuple(keyword[:-1] for keyword in _RESERVED_LOWER if keyword.endswith(":"))
_MARKERS = tuple(keyword for keyword in _RESERVED_LOWER if not keyword.endswith(":"))


def _has_reserved(text: str) -> bool:
    """`reserved_keywords_in(text) != []`, as the per-row check: "user:" is in the text exactly when a piece of
    it before a colon ends in "user", so one split at the colons (a chat has one a line) replaces five
    searches of the whole text; the bracketed markers are looked for only when a "<" or "[" is there at all.
    (Measured: a third less time than searching for each keyword, on the benchmark's chats.)"""
    lower = text.lower()
    if ("<" in lower or "[" in lower) and any(marker in lower for marker in _MARKERS):
        return True
    pieces = lower.split(":")
    pieces.pop()  # the text after the last colon precedes none
    return any(piece.endswith(_COLON_WORDS) for piece in pieces)


def rewrite_speaker_labels(text: str) -> tuple[str, int]:
    """`text` with its reserved speaker labels rewritten (`SPEAKER_LABEL_RULE`), and how many were."""
    return _SPEAKER_LABEL.subn(SPEAKER_LABEL_REPLACEMENT, text)


class BedrockConversation(TrainingFormat):
    """Amazon Nova's `bedrock-conversation-2024` records, within the base model's catalog limits."""

    provider = "bedrock"
    name = BEDROCK_SCHEMA_VERSION
    token_note = (
        "estimate: Nova's tokenizer is not public; counted with o200k_base over the system, user and assistant "
        "texts (no chat-template tokens)"
    )

    def __init__(self, config: ProjectConfig, entry: CatalogModel | None) -> None:
        self.model = config.base_model
        if config.max_tokens_per_example is not None:
            longest: ExampleLimit | None = example_limit_for(config.base_model, config.max_tokens_per_example)
        elif entry is not None and entry.max_record_tokens is not None:
            longest = ExampleLimit(entry.max_record_tokens, f"model catalog: {entry.source}")
        else:
            longest = None
        if entry is None:
            self.limits = RecordLimits(
                None, None, longest, validation_set=True, source=f"{self.model} is not in the model catalog"
            )
        else:
            self.limits = RecordLimits(
                entry.min_records, entry.max_records, longest, validation_set=entry.validation_set, source=entry.source
            )
        self.rules = {
            "tokens": f"{self.token_note}; a record longer than the model's published limit is too_many_tokens",
            "epochs": f"the configuration's n_epochs, else Bedrock's default epochCount ({BEDROCK_DEFAULT_EPOCHS}, "
            "range 1-5)",
            "reserved_keywords": f"{', '.join(RESERVED_KEYWORDS)} (any letter case, in any text): {SPEAKER_LABEL_RULE}",
            "record_limit": "training and validation records together are capped at the model's maximum: the "
            "first ones in export order are kept, later rows that pass every check are over_record_limit "
            "(eval.jsonl is never uploaded and is not capped)",
            "validation": "a model that takes no validation file (validation_set false in the model catalog) gets "
            "none: the validation share of the split goes to training, and validation.jsonl is left empty",
        }

    def system_problem(self, system: str) -> str | None:
        found = reserved_keywords_in(system)
        if found:
            return f"it holds Bedrock's reserved keyword(s) {', '.join(found)}, which fail a Nova training job"
        return None

    def adapt(self, prompt: str, response: str) -> Adapted | str:
        """Speaker labels in the chat are rewritten; a reserved keyword anywhere else rejects the row."""
        if _has_reserved(response):
            return Reason.RESERVED_KEYWORD
        rewritten = 0
        if _has_reserved(prompt):
            prompt, rewritten = rewrite_speaker_labels(prompt)
            if _has_reserved(prompt):
                return Reason.RESERVED_KEYWORD
        return Adapted(prompt, response, rewritten)

    def fixed_tokens(self, counter: TokenCounter, system: str) -> int:
        return counter.count(system)

    def record(self, system: str, prompt: str, response: str) -> dict[str, Any]:
        return {
            "schemaVersion": BEDROCK_SCHEMA_VERSION,
            "system": [{"text": system}],
            "messages": [
                {"role": "user", "content": [{"text": prompt}]},
                {"role": "assistant", "content": [{"text": response}]},
            ],
        }

    def problems(self, record: dict[str, Any]) -> list[str]:
        """The record's shape: one system text, then a user and an assistant message of one text block each,
        and no text blank. A guard (the record is `record`'s): a record it cannot even read raises, and the
        builder's per-row guard rejects that row."""
        (system,) = record["system"]
        user, assistant = record["messages"]
        if user["role"] != "user" or assistant["role"] != "assistant":
            return ["roles"]
        (prompt,), (response,) = user["content"], assistant["content"]
        for block in (system, prompt, response):
            text = block.get("text")
            if not isinstance(text, str) or not text or text.isspace():
                return ["missing_text"]
        return []

    def chat(self, record: dict[str, Any]) -> list[dict[str, str]]:
        user, assistant = record["messages"]
        return _messages(record["system"][0]["text"], user["content"][0]["text"], assistant["content"][0]["text"])

    def epochs(self, n_train: int, configured: int | str) -> tuple[int, EpochsSource]:
        if isinstance(configured, int):
            return configured, "project configuration"
        return BEDROCK_DEFAULT_EPOCHS, "provider default"


def training_format_for(config: ProjectConfig, catalog: ModelCatalog | None = None) -> TrainingFormat:
    """The training format of `config.provider`, with its base model's limits from the model catalog."""
    if config.provider == "bedrock":
        catalog = catalog or load_catalog()
        return BedrockConversation(config, catalog.entry("bedrock", config.base_model))
    return OpenAIChat(config)
