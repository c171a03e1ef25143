"""The dataset report (report.json): what was read, what was kept, what it will cost to train on.

Token and cost figures follow OpenAI's cookbook "Data preparation and analysis for chat model fine-tuning":
billed tokens per epoch are the training examples' tokens (each capped at the per-example limit), and
the number of epochs is the one the service picks by default for that many examples, unless the project
configuration sets `n_epochs`. It is an estimate made before any money is spent: the job's
`trained_tokens` is the billed truth.

A Bedrock (Amazon Nova) report has the same keys and two more: `bedrock` (the training format, the model's
record limits, what became of the validation share, the speaker labels rewritten) and `cost.parts` (training,
custom model storage per month, inference over the eval split and per 1,000 examples, each with what it was
priced as, and "unknown" where no price is published). Both are left out of an OpenAI report, whose shape
stays what its readers know.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

if TYPE_CHECKING:
    from labeltune.dataset.pricing import PriceTable

# The cookbook's epoch heuristic (what the fine-tuning service does when n_epochs is "auto").
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

RECOMMENDED_MIN_EXAMPLES = 50
"""OpenAI: at least 10 examples are required, "clear improvements" usually come from 50 to 100."""

SCHEMA_VERSION = 1

EpochsSource = Literal["project configuration", "cookbook heuristic", "provider default"]


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
    n_epochs_source: EpochsSource
    billable_tokens: int = Field(description="billing_tokens_per_epoch x n_epochs")
    validation_tokens: int = Field(description="tokens of the validation examples (not part of the estimate)")


def _omit_when_none(data: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """`data` without those of `keys` whose value is None: sections a provider does not have are left out."""
    return {key: value for key, value in data.items() if not (key in keys and value is None)}


class CostPart(BaseModel):
    """One part of a Bedrock cost estimate, with what it was priced as."""

    part: Literal["training", "storage per month", "inference, eval split", "inference per 1,000 examples"]
    estimated_usd: float | None = Field(description="None: unknown (a price not published), never 0")
    estimate: str = Field(description='"<amount> USD", or "unknown"')
    basis: str = Field(description="what is priced: tokens, models, examples")
    priced_as: str = Field(description="the price table entry and the unit prices used, or why there is none")


class CostEstimate(BaseModel):
    estimated_usd: float | None = Field(description="training: None when the price table has no price for the model")
    price_per_1m_training_tokens: float | None
    priced_as: str | None = Field(description="the price table entry used")
    currency: str
    price_table_source: str
    price_table_as_of: str
    price_table_path: str
    note: str = ""
    parts: list[CostPart] | None = Field(None, description="Bedrock: every part of the cost (absent for OpenAI)")

    @model_serializer(mode="wrap")
    def _without_absent_parts(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit_when_none(handler(self), ("parts",))


class RecordLimitsReport(BaseModel):
    min_records: int | None = Field(description="fewest training records the model takes (None: not published)")
    max_records: int | None = Field(description="most training + validation records (None: not published)")
    source: str


class BedrockDetails(BaseModel):
    """What a Bedrock build did that an OpenAI build does not (counts and rules, no content)."""

    training_format: str = Field(description="schemaVersion of train.jsonl and validation.jsonl")
    eval_format: str = Field(description="eval.jsonl's format (the same for every provider)")
    token_counts: str = Field(description="how tokens were counted: an estimate, Nova's tokenizer is not public")
    record_limits: RecordLimitsReport
    max_record_tokens_note: str = Field(description="the longest record checked, or why none is")
    validation: str = Field(description="what became of the validation share of the split")
    speaker_labels_rewritten: int = Field(description="speaker labels rewritten in the chats written")
    examples_with_speaker_labels_rewritten: int
    speaker_label_rule: str
    reserved_keywords: list[str]
    over_record_limit: int = Field(description="rows left out because the model's most records were reached")
    epochs_note: str


class DatasetReport(BaseModel):
    """report.json. Counts and ids only: no content of any row."""

    schema_version: int = SCHEMA_VERSION
    ok: bool = Field(description="False when the dataset cannot be trained on (see problems)")
    problems: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    project_id: str
    base_model: str
    token_encoding: str
    max_tokens_per_example: int | None = Field(description="None: the provider publishes no limit for the model")
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
    bedrock: BedrockDetails | None = Field(None, description="Bedrock builds only (absent for OpenAI)")

    @model_serializer(mode="wrap")
    def _without_absent_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit_when_none(handler(self), ("bedrock",))


UNKNOWN = "unknown"
PER_1000_EXAMPLES = 1000


def _usd(amount: float | None) -> tuple[float | None, str]:
    """(the amount rounded for the report, how it reads): None is "unknown", never 0."""
    if amount is None:
        return None, UNKNOWN
    rounded = round(amount, 6)
    return rounded, f"{rounded:,.6f} USD"


def bedrock_cost(
    table: PriceTable,
    model: str,
    training: TrainingEstimate,
    *,
    eval_examples: int,
    eval_input_tokens: int,
    eval_output_tokens: int,
) -> CostEstimate:
    """A Bedrock build's cost, part by part, from the price table's entry for `model`.

    Training is billed on the tokens trained on (records x epochs). Storage is per custom model per month.
    Inference is the tuned model called on demand, at its base model's rate, over the eval split: input is the
    system prompt and the chat, output is estimated as long as the reference summary. A price the table holds
    as null (not published) makes that part "unknown", and the whole estimate never reads as 0.
    """
    found = table.bedrock_prices(model)
    key, prices = found if found is not None else (None, None)
    source, as_of = (prices.source, prices.as_of) if prices is not None else (table.source, table.as_of)

    def why_unknown(what: str) -> str:
        if prices is None:
            return f"no entry for {model} in the price table"
        return f"{key} has no {what} in the price table (not published in the sources read)"

    def priced(value: float | None, what: str, unit: str) -> str:
        if value is None:
            return f"no price: {why_unknown(what)}"
        return f"price table entry {key}: {value:g} USD {unit} (as of {as_of})"

    train_price = prices.training_per_1m_tokens if prices else None
    storage_price = prices.storage_per_month if prices else None
    input_price = prices.inference_input_per_1m_tokens if prices else None
    output_price = prices.inference_output_per_1m_tokens if prices else None

    def inference(input_tokens: float, output_tokens: float) -> float | None:
        if input_price is None or output_price is None:
            return None
        return (input_tokens * input_price + output_tokens * output_price) / 1_000_000

    if input_price is None or output_price is None:
        inference_priced = f"no price: {why_unknown('on-demand inference price')}"
    else:
        inference_priced = (
            f"price table entry {key}: {input_price:g} USD per 1M input tokens, {output_price:g} USD per 1M output "
            f"tokens (as of {as_of})"
            + (f"; {prices.inference_priced_as}" if prices and prices.inference_priced_as else "")
        )
    training_usd = None if train_price is None else training.billable_tokens * train_price / 1_000_000
    scale = PER_1000_EXAMPLES / eval_examples if eval_examples else None
    per_thousand = inference(eval_input_tokens * scale, eval_output_tokens * scale) if scale else None
    parts = [
        CostPart(
            part="training",
            **_amount(training_usd),
            basis=f"{training.billable_tokens:,} training tokens ({training.billing_tokens_per_epoch:,} per epoch x "
            f"{training.n_epochs} epochs), an estimate counted with o200k_base",
            priced_as=priced(train_price, "training price", "per 1M training tokens"),
        ),
        CostPart(
            part="storage per month",
            **_amount(storage_price),
            basis="1 custom model, 1 month",
            priced_as=priced(storage_price, "custom model storage price", "per custom model per month"),
        ),
        CostPart(
            part="inference, eval split",
            **_amount(inference(eval_input_tokens, eval_output_tokens)),
            basis=f"{eval_examples:,} examples: {eval_input_tokens:,} input tokens (system prompt and chat) and "
            f"{eval_output_tokens:,} output tokens (as long as the reference summaries), one pass, estimates",
            priced_as=inference_priced,
        ),
        CostPart(
            part="inference per 1,000 examples",
            **_amount(per_thousand),
            basis=f"the eval split's mean tokens per example x {PER_1000_EXAMPLES:,}"
            if eval_examples
            else "no eval examples to take a mean from",
            priced_as=inference_priced,
        ),
    ]
    unknown = [part.part for part in parts if part.estimated_usd is None and part.priced_as.startswith("no price")]
    return CostEstimate(
        estimated_usd=None if training_usd is None else round(training_usd, 4),
        price_per_1m_training_tokens=train_price,
        priced_as=key if train_price is not None else None,
        currency=table.currency,
        price_table_source=source,
        price_table_as_of=as_of,
        price_table_path=table.path,
        note=f"cost of {' and '.join(unknown)}: {UNKNOWN} ({why_unknown('price for it')})" if unknown else "",
        parts=parts,
    )


def _amount(amount: float | None) -> dict[str, Any]:
    usd, estimate = _usd(amount)
    return {"estimated_usd": usd, "estimate": estimate}
