"""A project's current model and the history of its promotions, as stored on the project record.

Pure: the rule for one promotion (newest first, bounded, promoting the current model again changes nothing) is
here once, applied by every ProjectStore inside its own conditional write, so the DynamoDB adapter and the
in-memory fake cannot disagree about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_PROMOTION_HISTORY = 50  # newest first; older promotions fall off (the runs themselves stay on record)
GATE_PASSED = "gate passed"
CURRENT_MODEL = "current_model"  # the project record's attributes
MODEL_HISTORY = "model_history"
MODEL_VERSION = "model_version"  # bumped by every promotion: the condition of the next write


def rollback_reason(run_id: str) -> str:
    return f"rollback to {run_id}"


class ModelPromotion(BaseModel):
    """One promotion: which run's tuned model became current, where it is served, when and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    run_id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    model_id: str = Field(min_length=1, description="the tuned model's id at the provider")
    endpoint_id: str = Field(
        min_length=1, description="what serves it: the Bedrock deployment, else the model id itself"
    )
    promoted_at: str
    reason: str = Field(description='"gate passed" or "rollback to <run>"')


class ProjectModel(BaseModel):
    """The project's current model (None before its first promotion) and its promotions, newest first."""

    model_config = ConfigDict(frozen=True)
    current: ModelPromotion | None = None
    history: list[ModelPromotion] = Field(default_factory=list)
    version: int = 0

    @classmethod
    def of(cls, project: Mapping[str, Any]) -> ProjectModel:
        """Read from a project record (which has none of these attributes before its first promotion)."""
        return cls(
            current=project.get(CURRENT_MODEL),
            history=list(project.get(MODEL_HISTORY) or []),
            version=int(project.get(MODEL_VERSION) or 0),
        )

    def promoted(self, run_id: str) -> ModelPromotion | None:
        """The newest promotion of `run_id` still in the history, None when it was never promoted (or fell off)."""
        return next((entry for entry in self.history if entry.run_id == run_id), None)

    def attributes(self) -> dict[str, Any]:
        """The project record's attributes for this state (JSON values: what a store writes)."""
        return {
            CURRENT_MODEL: self.current.model_dump(mode="json") if self.current else None,
            MODEL_HISTORY: [entry.model_dump(mode="json") for entry in self.history],
            MODEL_VERSION: self.version,
        }


class PromotionChange(BaseModel):
    """What one promotion did: the model now current, the one it replaced, and whether anything changed."""

    model_config = ConfigDict(frozen=True)
    current: ModelPromotion
    superseded: ModelPromotion | None = None
    changed: bool


def apply_promotion(
    state: ProjectModel, entry: ModelPromotion, keep: int = MAX_PROMOTION_HISTORY
) -> tuple[ProjectModel, PromotionChange]:
    """`entry` made current and put first in the history (at most `keep` entries). Promoting the run that is
    already current changes nothing, so a retried step or a repeated rollback writes no second entry."""
    if state.current is not None and state.current.run_id == entry.run_id:
        return state, PromotionChange(current=state.current, superseded=None, changed=False)
    after = ProjectModel(current=entry, history=[entry, *state.history][:keep], version=state.version + 1)
    return after, PromotionChange(current=entry, superseded=state.current, changed=True)
