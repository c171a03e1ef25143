"""The Amazon Nova models the emulator knows: ids, record bounds, hyperparameter ranges.

Each Nova model has two ids on Bedrock: the on-demand one used for inference (`amazon.nova-micro-v1:0`)
and the customizable variant with its context length (`amazon.nova-micro-v1:0:128k`), which is what
`CreateModelCustomizationJob` takes as `baseModelIdentifier` and what `ListFoundationModels
(byCustomizationType=FINE_TUNING)` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROVIDER = "Amazon"
# Cross-Region inference profiles put a geography in front of the model id ("us.amazon.nova-lite-v1:0").
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.")
MAX_RECORDS = 20_000


@dataclass(frozen=True)
class NovaModel:
    """One Nova model and what fine-tuning it accepts."""

    name: str
    on_demand_id: str
    customizable_id: str
    input_modalities: tuple[str, ...]
    # Defaults: the Nova 1 models (Micro, Lite, Pro).
    customizations: tuple[str, ...] = ("FINE_TUNING", "DISTILLATION")
    min_records: int = 8
    uses_validation_data: bool = True  # Nova 2 Lite ignores a validation set
    max_records: int = MAX_RECORDS


MODELS: tuple[NovaModel, ...] = (
    NovaModel("Nova Micro", "amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0:128k", ("TEXT",)),
    NovaModel("Nova Lite", "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0:300k", ("TEXT", "IMAGE")),
    NovaModel("Nova Pro", "amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0:300k", ("TEXT", "IMAGE")),
    NovaModel(
        "Nova 2 Lite",
        "amazon.nova-2-lite-v1:0",
        "amazon.nova-2-lite-v1:0:256k",
        ("TEXT", "IMAGE"),
        customizations=("FINE_TUNING",),
        min_records=200,
        uses_validation_data=False,
    ),
)


@dataclass(frozen=True)
class HyperParameter:
    """A Nova fine-tuning hyperparameter: sent as a string, holding an int or a float within a range."""

    name: str
    kind: type[int] | type[float]
    minimum: float
    maximum: float
    default: str | None


HYPERPARAMETERS: dict[str, HyperParameter] = {
    "epochCount": HyperParameter("epochCount", int, 1, 5, "2"),
    "learningRate": HyperParameter("learningRate", float, 1e-6, 1e-4, "0.00001"),
    # 0-100 on the current Bedrock page (cm-hp-nova-mm); an older Nova guide page said 0-20.
    "learningRateWarmupSteps": HyperParameter("learningRateWarmupSteps", int, 0, 100, "10"),
    "batchSize": HyperParameter("batchSize", int, 1, 256, None),  # checked when given; no default reported
}


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _strip_foundation_arn(identifier: str) -> str:
    if identifier.startswith("arn:") and ":foundation-model/" in identifier:
        return identifier.split(":foundation-model/", 1)[1]
    return identifier


def customizable(identifier: str) -> NovaModel | None:
    """The model a `baseModelIdentifier` names (its customizable id, or that id's foundation-model ARN)."""
    model_id = _strip_foundation_arn(identifier)
    return next((model for model in MODELS if model.customizable_id == model_id), None)


def known(identifier: str) -> NovaModel | None:
    """Any model by either id (to tell "not customizable" from "unknown")."""
    model_id = _strip_foundation_arn(identifier)
    return next((m for m in MODELS if model_id in (m.customizable_id, m.on_demand_id)), None)


def invokable(model_id: str) -> NovaModel | None:
    """The base model a Converse `modelId` names: on-demand id, its ARN, or a cross-Region profile id."""
    model_id = _strip_foundation_arn(model_id)
    for prefix in INFERENCE_PROFILE_PREFIXES:
        if model_id.startswith(prefix):
            model_id = model_id[len(prefix) :]
            break
    return next((model for model in MODELS if model.on_demand_id == model_id), None)


ACTIVE = {"status": "ACTIVE"}


def _summary(
    region: str,
    model: NovaModel,
    model_id: str,
    customizations: list[str],
    inference: list[str],
    lifecycle: dict[str, Any],
) -> dict:
    return {
        "modelArn": foundation_model_arn(region, model_id),
        "modelId": model_id,
        "modelName": model.name,
        "providerName": PROVIDER,
        "inputModalities": list(model.input_modalities),
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": customizations,
        "inferenceTypesSupported": inference,
        "modelLifecycle": lifecycle,
    }


def foundation_models(region: str, lifecycles: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """`FoundationModelSummary` dicts: each model's on-demand id, then its customizable variant, each with the
    lifecycle a test gave its id (`BedrockEmulator.set_model_lifecycle`), else ACTIVE."""
    lifecycles = lifecycles or {}
    summaries = []
    for model in MODELS:
        for model_id, customizations, inference in (
            (model.on_demand_id, [], ["ON_DEMAND"]),
            (model.customizable_id, list(model.customizations), ["PROVISIONED"]),
        ):
            lifecycle = dict(lifecycles.get(model_id, ACTIVE))
            summaries.append(_summary(region, model, model_id, customizations, inference, lifecycle))
    return summaries
