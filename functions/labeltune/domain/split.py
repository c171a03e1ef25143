"""Deterministic train / validation / eval assignment.

An example's split is a pure function of its data row identity, so a row never moves between splits
when new labels arrive: the held-out set only grows and metrics stay comparable run to run.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labeltune.domain.models import SplitName


class SplitRatios(BaseModel):
    """Shares of the labelled rows per split: they sum to 1, and train and eval are above 0."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    train: float = Field(0.8, ge=0, le=1, description="share of rows the model is trained on")
    validation: float = Field(
        0.1, ge=0, le=1, description="share sent as the provider's validation file (0: none; Nova 2 Lite takes none)"
    )
    eval: float = Field(0.1, ge=0, le=1, description="share held out to evaluate base and tuned models on")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        if min(self.train, self.validation, self.eval) < 0 or abs(self.train + self.validation + self.eval - 1) > 1e-6:
            raise ValueError("split ratios must be non-negative and sum to 1")
        if self.train <= 0 or self.eval <= 0:
            raise ValueError("train and eval ratios must be positive")
        return self


def bucket(split_key: str) -> float:
    """A uniform number in [0, 1) derived from the key alone (SHA-256, not Python's salted hash)."""
    digest = hashlib.sha256(split_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(split_key: str, ratios: SplitRatios) -> SplitName:
    """The split of the example whose data row has `split_key`: eval is the low end of [0, 1), validation
    the next, train the rest (so raising the eval ratio only moves rows into eval). The one split rule: the
    dataset builder calls it for every example it keeps."""
    point = bucket(split_key)
    if point < ratios.eval:
        return "eval"
    if point < ratios.eval + ratios.validation:
        return "validation"
    return "train"
