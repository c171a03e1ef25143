"""Per-project configuration: how to read a Labelbox project's labels, and how to train and judge on them.

One schema for every entry point: stored per project (PUT/GET /projects/{id}), read by the pipeline, and
accepted as a file by `labeltune dataset build --config`. Defaults suit a Text project whose data row is
the chat and whose single free-text classification holds the human-written summary.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from labeltune.domain.conversion import FieldMapping
from labeltune.domain.split import SplitRatios

DEFAULT_SYSTEM_PROMPT = (
    "Summarise this customer-support chat in two or three sentences. Do not include any personal data: "
    "no names, email addresses, phone numbers, order numbers or account ids."
)
DEFAULT_BASE_MODEL = "gpt-4.1-mini-2025-04-14"
DEFAULT_MAX_EXPORT_ERROR_RATE = 0.01


def _auto_or_number(value: Any, name: str, *, integer: bool, low: float, high: float | None) -> int | float | str:
    """ "auto", or a number in range: one plain message for anything else (no union noise from pydantic)."""
    if value == "auto":
        return "auto"
    bound = f"between {low:g} and {high:g}" if high is not None else f"above {low:g}"
    kind = "a whole number" if integer else "a number"
    number_like = isinstance(value, int | float) and not isinstance(value, bool)
    try:
        finite = number_like and math.isfinite(value)
    except OverflowError:  # an integer too large to be a float (JSON allows any number of digits)
        finite = False
    if not finite or (integer and value != int(value)):
        raise ValueError(f'{name} must be "auto" or {kind} {bound}')
    if (high is not None and not low <= value <= high) or (high is None and value <= low):
        raise ValueError(f'{name} must be "auto" or {kind} {bound}')
    return int(value) if integer else float(value)


class Hyperparameters(BaseModel):
    """OpenAI supervised fine-tuning hyperparameters; "auto" lets the provider choose."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_epochs: int | Literal["auto"] = Field("auto", description="1-50")
    batch_size: int | Literal["auto"] = Field("auto", description="1-256")
    learning_rate_multiplier: float | Literal["auto"] = Field("auto", description="> 0")

    @field_validator("n_epochs", mode="plain")
    @classmethod
    def _epochs(cls, value: Any) -> int | float | str:
        return _auto_or_number(value, "n_epochs", integer=True, low=1, high=50)

    @field_validator("batch_size", mode="plain")
    @classmethod
    def _batch(cls, value: Any) -> int | float | str:
        return _auto_or_number(value, "batch_size", integer=True, low=1, high=256)

    @field_validator("learning_rate_multiplier", mode="plain")
    @classmethod
    def _lr(cls, value: Any) -> int | float | str:
        return _auto_or_number(value, "learning_rate_multiplier", integer=False, low=0, high=None)

    def explicit(self) -> dict[str, int | float]:
        """Only the values set by hand: "auto" is the provider's default and is not sent."""
        return {k: v for k, v in self.model_dump().items() if v != "auto"}


class EvaluationThresholds(BaseModel):
    """What a tuned model must reach for the run to be marked as passing its evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    max_leak_rate: float = Field(0.0, ge=0, le=1, description="share of outputs allowed to leak PII")
    min_rouge_l: float = Field(0.0, ge=0, le=1, description="mean ROUGE-L the tuned model must reach")
    max_error_rate: float = Field(0.0, ge=0, le=1, description="share of held-out examples it may fail to answer")

    def findings(self, leak_rate: float, rouge_l: float, error_rate: float = 0.0) -> list[str]:
        """Why a tuned model falls short; an empty list means it passes."""
        found = []
        if error_rate > self.max_error_rate:
            found.append(f"failed to answer {error_rate:.4f} of examples, above the allowed {self.max_error_rate:.4f}")
        if leak_rate > self.max_leak_rate:
            found.append(f"leak rate {leak_rate:.4f} above the allowed {self.max_leak_rate:.4f}")
        if rouge_l < self.min_rouge_l:
            found.append(f"ROUGE-L {rouge_l:.4f} below the required {self.min_rouge_l:.4f}")
        return found


class ProjectConfig(BaseModel):
    """Validated as a whole: shape and bounds here; whether the base model can be trained today is the
    model catalog's answer (labeltune.catalog), checked where the date is known."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    mapping: FieldMapping = FieldMapping()
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1, max_length=20_000)
    base_model: str = Field(DEFAULT_BASE_MODEL, min_length=1, max_length=256, pattern=r"^\S+$")
    hyperparameters: Hyperparameters = Hyperparameters()
    split: SplitRatios = SplitRatios()
    min_examples: int = Field(10, ge=10, le=1_000_000, description="OpenAI needs at least 10 training examples")
    min_new_labels: int = Field(1, ge=1, le=1_000_000, description="distinct approved labels that trigger a run")
    max_tokens_per_example: int | None = Field(
        None, ge=1, le=10_000_000, description="longest example kept, in tokens; None: the base model's own limit"
    )
    trigger_topics: tuple[Literal["WORKFLOW_ACTION", "LABEL_CREATED", "LABEL_UPDATED"], ...] = Field(
        ("WORKFLOW_ACTION",),
        min_length=1,
        description="webhook topics counted as approvals; add LABEL_CREATED for projects without review",
    )
    max_export_error_rate: float = Field(
        DEFAULT_MAX_EXPORT_ERROR_RATE,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="share of rows Labelbox may fail to export before a run fails rather than train without them",
    )
    evaluation: EvaluationThresholds = EvaluationThresholds()
