"""Per-project configuration: how to read a Labelbox project's labels, and how to train and judge on them.

One schema for every entry point: stored per project (PUT/GET /projects/{id}), read by the pipeline, and
accepted as a file by `labeltune dataset build --config`. Defaults suit a Text project whose data row is
the chat and whose single free-text classification holds the human-written summary.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from labeltune.domain.conversion import FieldMapping
from labeltune.domain.split import SplitRatios

DEFAULT_SYSTEM_PROMPT = (
    "Summarise this customer-support chat in two or three sentences. Do not include any personal data: "
    "no names, email addresses, phone numbers, order numbers or account ids."
)
DEFAULT_BASE_MODEL = "gpt-4.1-mini-2025-04-14"


class Hyperparameters(BaseModel):
    """OpenAI supervised fine-tuning hyperparameters; "auto" lets the provider choose."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_epochs: int | Literal["auto"] = Field("auto", description="1-50")
    batch_size: int | Literal["auto"] = Field("auto", description="1-256")
    learning_rate_multiplier: float | Literal["auto"] = Field("auto", description="> 0")

    @field_validator("n_epochs")
    @classmethod
    def _epochs(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 50:
            raise ValueError("n_epochs must be between 1 and 50")
        return value

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError("batch_size must be between 1 and 256")
        return value

    @field_validator("learning_rate_multiplier")
    @classmethod
    def _lr(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and value <= 0:
            raise ValueError("learning_rate_multiplier must be positive")
        return value

    def explicit(self) -> dict[str, int | float]:
        """Only the values set by hand: "auto" is the provider's default and is not sent."""
        return {k: v for k, v in self.model_dump().items() if v != "auto"}


class EvaluationThresholds(BaseModel):
    """What a tuned model must reach for the run to be marked as passing its evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid")
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
    model_config = ConfigDict(frozen=True, extra="forbid")

    mapping: FieldMapping = FieldMapping()
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1)
    base_model: str = DEFAULT_BASE_MODEL
    hyperparameters: Hyperparameters = Hyperparameters()
    split: SplitRatios = SplitRatios()
    min_examples: int = Field(10, ge=10, description="OpenAI needs at least 10 training examples")
    min_new_labels: int = Field(1, ge=1, description="approval events that trigger a run")
    max_tokens_per_example: int | None = Field(
        None, ge=1, description="longest example kept, in tokens; None: the base model's own limit"
    )
    trigger_topics: tuple[Literal["WORKFLOW_ACTION", "LABEL_CREATED", "LABEL_UPDATED"], ...] = Field(
        ("WORKFLOW_ACTION",),
        min_length=1,
        description="webhook topics counted as approvals; add LABEL_CREATED for projects without review",
    )
    evaluation: EvaluationThresholds = EvaluationThresholds()
