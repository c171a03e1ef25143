"""The dataset report (report.json): what was read, what was kept, what it will cost to train on.

Token and cost figures follow OpenAI's cookbook "Data preparation and analysis for chat model fine-tuning":
billed tokens per epoch are the training examples' tokens (each capped at the per-example limit), and
the number of epochs is the one the service picks by default for that many examples, unless the project
configuration sets `n_epochs`. It is an estimate made before any money is spent: the job's
`trained_tokens` is the billed truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

# The cookbook's epoch heuristic (what the fine-tuning service does when n_epochs is "auto").
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

RECOMMENDED_MIN_EXAMPLES = 50
"""OpenAI: at least 10 examples are required, "clear improvements" usually come from 50 to 100."""

SCHEMA_VERSION = 1


def default_epochs(n_train_examples: int) -> int:
    """The cookbook's estimate of the epochs the service chooses for `n_train_examples` examples."""
    n_epochs = TARGET_EPOCHS
    if n_train_examples <= 0:
        return n_epochs
    if n_train_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train_examples)
    elif n_train_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train_examples)
    return n_epochs


def quantile(sorted_values: Sequence[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, which the cookbook uses)."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class TokenStats(BaseModel):
    """Tokens per example over a set of examples."""

    examples: int
    total: int
    min: int
    mean: float
    p95: float
    max: int

    @classmethod
    def of(cls, counts: Sequence[int]) -> TokenStats | None:
        if not counts:
            return None
        ordered = sorted(counts)
        return cls(
            examples=len(ordered),
            total=sum(ordered),
            min=ordered[0],
            mean=round(sum(ordered) / len(ordered), 2),
            p95=round(quantile(ordered, 0.95), 2),
            max=ordered[-1],
        )


class TrainingEstimate(BaseModel):
    train_tokens: int = Field(description="tokens of the training examples, one pass")
    billing_tokens_per_epoch: int = Field(description="train_tokens with each example capped at the limit")
    n_epochs: int
    n_epochs_source: Literal["project configuration", "cookbook heuristic"]
    billable_tokens: int = Field(description="billing_tokens_per_epoch x n_epochs")
    validation_tokens: int = Field(description="tokens of the validation examples (not part of the estimate)")


class CostEstimate(BaseModel):
    estimated_usd: float | None = Field(description="None when the price table has no price for the model")
    price_per_1m_training_tokens: float | None
    priced_as: str | None = Field(description="the price table entry used")
    currency: str
    price_table_source: str
    price_table_as_of: str
    price_table_path: str
    note: str = ""


class DatasetReport(BaseModel):
    """report.json. Counts and ids only: no content of any row."""

    schema_version: int = SCHEMA_VERSION
    ok: bool = Field(description="False when the dataset cannot be trained on (see problems)")
    problems: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    project_id: str
    base_model: str
    token_encoding: str
    max_tokens_per_example: int
    max_tokens_source: str

    rows_read: int = Field(description="non-blank lines (or rows) read from the export")
    blank_lines: int = 0
    examples: dict[str, int] = Field(description="examples written per split: train, validation, eval")
    rejected: int
    rejected_by_reason: dict[str, int]
    duplicates_removed: int = Field(description="duplicate_data_row + duplicate_example + duplicate_prompt rejections")
    format_errors: dict[str, int] = Field(description="OpenAI format checks failed (invalid_example rows)")
    unexpected_errors: dict[str, int] = Field(
        default_factory=dict,
        description="rows whose conversion raised, by exception type (no message: it could quote the row); "
        "each is rejected as malformed_row and the build goes on",
    )

    tokens_per_example: dict[str, TokenStats | None] = Field(description="per split")
    assistant_tokens_per_example: TokenStats | None = Field(description="training examples' assistant messages")
    training: TrainingEstimate
    cost: CostEstimate

    split_ratios: dict[str, float]
    min_examples: int
    rules: dict[str, str]
    files: dict[str, str]
