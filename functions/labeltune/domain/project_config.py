"""Per-project configuration: how to read a Labelbox project's labels, and how to train and judge on them.

One schema for every entry point: stored per project (PUT/GET /projects/{id}), read by the pipeline, and
accepted as a file by `labeltune dataset build --config`. Defaults suit a Text project whose data row is
the chat and whose single free-text classification holds the human-written summary.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from labeltune.domain.conversion import FieldMapping
from labeltune.domain.judge import JudgeConfig
from labeltune.domain.predictions import PredictionsConfig
from labeltune.domain.split import SplitRatios

DEFAULT_SYSTEM_PROMPT = (
    "Summarise this customer-support chat in two or three sentences. Do not include any personal data: "
    "no names, email addresses, phone numbers, order numbers or account ids."
)
Provider = Literal["openai", "bedrock"]
PROVIDERS: tuple[Provider, ...] = ("openai", "bedrock")
# A stored configuration from before providers were chosen per project has no `provider`: it was OpenAI's.
LEGACY_PROVIDER: Provider = "openai"
# Each provider's default base model: what a project gets when it names a provider and no model.
DEFAULT_BASE_MODELS: dict[str, str] = {
    "openai": "gpt-4.1-mini-2025-04-14",
    "bedrock": "amazon.nova-micro-v1:0:128k",
}
DEFAULT_BASE_MODEL = DEFAULT_BASE_MODELS[LEGACY_PROVIDER]
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


def _auto_or(kind: str, **bounds: float) -> dict[str, Any]:
    """The JSON schema of a "auto"-or-number field (its plain validator hides the type from pydantic's schema)."""
    return {"anyOf": [{"const": "auto"}, {"type": kind, **bounds}]}


class Hyperparameters(BaseModel):
    """Fine-tuning hyperparameters; "auto" leaves the value to the provider. Which ones a provider takes,
    and within which bounds, is checked against the project's provider (`ProjectConfig`):
    OpenAI: n_epochs 1-50, batch_size 1-256, learning_rate_multiplier > 0.
    Bedrock (Nova): n_epochs 1-5 (epochCount), learning_rate 0.000001-0.0001, learning_rate_warmup_steps 0-100.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_epochs: int | Literal["auto"] = Field(
        "auto", description="1-50 (OpenAI), 1-5 (Bedrock)", json_schema_extra=_auto_or("integer", minimum=1, maximum=50)
    )
    batch_size: int | Literal["auto"] = Field(
        "auto", description="1-256 (OpenAI only)", json_schema_extra=_auto_or("integer", minimum=1, maximum=256)
    )
    learning_rate_multiplier: float | Literal["auto"] = Field(
        "auto", description="> 0 (OpenAI only)", json_schema_extra=_auto_or("number", exclusiveMinimum=0)
    )
    learning_rate: float | Literal["auto"] = Field(
        "auto",
        description="0.000001-0.0001 (Bedrock only)",
        json_schema_extra=_auto_or("number", minimum=1e-6, maximum=1e-4),
    )
    learning_rate_warmup_steps: int | Literal["auto"] = Field(
        "auto", description="0-100 (Bedrock only)", json_schema_extra=_auto_or("integer", minimum=0, maximum=100)
    )

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

    @field_validator("learning_rate", mode="plain")
    @classmethod
    def _absolute_lr(cls, value: Any) -> int | float | str:
        return _auto_or_number(value, "learning_rate", integer=False, low=1e-6, high=1e-4)

    @field_validator("learning_rate_warmup_steps", mode="plain")
    @classmethod
    def _warmup(cls, value: Any) -> int | float | str:
        return _auto_or_number(value, "learning_rate_warmup_steps", integer=True, low=0, high=100)

    def explicit(self) -> dict[str, int | float]:
        """Only the values set by hand: "auto" is the provider's default and is not sent."""
        return {k: v for k, v in self.model_dump().items() if v != "auto"}

    def problems_for(self, provider: str) -> list[str]:
        """What this provider would refuse: a hyperparameter it does not take, or one outside its bounds."""
        explicit = self.explicit()
        others = sorted(set(explicit) - set(PROVIDER_HYPERPARAMETERS.get(provider, ())))
        found = [f"{name} is not a {provider} hyperparameter (it takes {_takes(provider)})" for name in others]
        epochs = explicit.get("n_epochs")
        if provider == "bedrock" and epochs is not None and epochs > BEDROCK_MAX_EPOCHS:
            found.append(f"n_epochs must be between 1 and {BEDROCK_MAX_EPOCHS} for bedrock")
        return found


PROVIDER_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "openai": ("n_epochs", "batch_size", "learning_rate_multiplier"),
    "bedrock": ("n_epochs", "learning_rate", "learning_rate_warmup_steps"),
}
BEDROCK_MAX_EPOCHS = 5


def _takes(provider: str) -> str:
    return ", ".join(PROVIDER_HYPERPARAMETERS.get(provider, ())) or "none"


class EvaluationThresholds(BaseModel):
    """What a tuned model must reach for the run to be marked as passing its evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    max_leak_rate: float = Field(0.0, ge=0, le=1, description="share of outputs allowed to leak PII")
    min_rouge_l: float = Field(0.0, ge=0, le=1, description="mean ROUGE-L the tuned model must reach")
    max_error_rate: float = Field(0.0, ge=0, le=1, description="share of held-out examples it may fail to answer")
    # The promotion gate (domain/gate.py). 0.0: a model worse than the base model is never promoted; a negative
    # bound tolerates a small loss (e.g. for fewer leaks); None switches the comparison off.
    min_rouge_l_gain: float | None = Field(
        0.0, ge=-1, le=1, description="tuned minus base mean ROUGE-L the tuned model must reach; None: not checked"
    )
    min_judge_pass_rate: float | None = Field(
        None, ge=0, le=1, description="share the LLM judge must pass (only a judge trusted enough gates); None: off"
    )

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

    provider: Provider = Field(
        LEGACY_PROVIDER, description="who fine-tunes: openai or bedrock (a new project gets the stack's default)"
    )
    mapping: FieldMapping = FieldMapping()
    system_prompt: str = Field(
        DEFAULT_SYSTEM_PROMPT,
        min_length=1,
        max_length=20_000,
        description="the instruction every training and evaluation example starts with (the system message)",
    )
    base_model: str = Field(
        DEFAULT_BASE_MODEL,
        min_length=1,
        max_length=256,
        pattern=r"^\S+$",
        description="the provider's base model id; when left out, the provider's default (DEFAULT_BASE_MODELS)",
    )
    hyperparameters: Hyperparameters = Hyperparameters()
    keep_deployment: bool = Field(
        False,
        description="keep the tuned model's on-demand deployment after the run (Bedrock serves a tuned model "
        "through one, billed per call; OpenAI needs none). Off: it is deleted when the run ends",
    )
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
    judge: JudgeConfig = JudgeConfig()
    predictions: PredictionsConfig = PredictionsConfig()
    evaluation_concurrency: int = Field(
        16,
        ge=2,
        le=256,
        description="model calls in flight at once while evaluating (each held-out example asks base and tuned "
        "together); bounded by the provider's rate limits, which are answered with backoff",
    )

    @model_validator(mode="after")
    def _provider_default_model(self) -> ProjectConfig:
        """A configuration that names a provider but no base model gets that provider's default model."""
        if "base_model" not in self.model_fields_set:
            object.__setattr__(self, "base_model", DEFAULT_BASE_MODELS[self.provider])  # frozen: set while validating
        return self

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters_fit_the_provider(cls, value: Hyperparameters, info: ValidationInfo) -> Hyperparameters:
        provider = info.data.get("provider")
        problems = value.problems_for(provider) if provider else []
        if problems:
            raise ValueError("; ".join(problems))
        return value
