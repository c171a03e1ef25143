"""Predictions back in Labelbox: the tuned model's answers on the held-out rows, as a Labelbox model run.

Reviewers compare the model's summary with the human one row by row in Labelbox, and rows the model did worst
on can be queued for review. Pure rules here (configuration, which classification the answers go to, the
prediction lines Labelbox imports); the SDK calls are in adapters/labelbox_predictions.py, the run's side in
pipeline/predictions.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labeltune.domain.conversion import FieldMapping

# Labelbox's type for a free-text classification. Only this one takes a model run's prediction: "prompt" and
# "response-text" belong to prompt/response projects, whose model runs labeltune does not write.
PREDICTION_CLASSIFICATION_TYPE = "text"
# The namespace of prediction uuids: one uuid per (run, data row), the same on every attempt.
_PREDICTION_NAMESPACE = uuid.UUID("5b0d7a53-3f0e-4d8e-9f43-6c1d0f6f2a11")


class PredictionsConfig(BaseModel):
    """Whether and where a run's tuned-model outputs are published to Labelbox (off unless asked for)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    enabled: bool = Field(False, description="publish the tuned model's held-out answers as a Labelbox model run")
    classification: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="the free-text classification the answers go to (name or feature schema id); None: the "
        "mapping's response classification, else the ontology's single free-text classification",
    )
    model_name: str | None = Field(
        None, min_length=1, max_length=256, description='the Labelbox model\'s name; None: "labeltune-<project id>"'
    )
    review_project_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="a Labelbox project (not the training one) the low-scoring rows are sent to for review",
    )
    review_below_rouge_l: float | None = Field(
        None, ge=0, le=1, description="rows whose tuned answer scores below this ROUGE-L go to the review project"
    )

    @model_validator(mode="after")
    def _review_needs_both(self) -> PredictionsConfig:
        if (self.review_project_id is None) != (self.review_below_rouge_l is None):
            raise ValueError("set both review_project_id and review_below_rouge_l to send rows for review, or neither")
        return self

    def model_name_for(self, project_id: str) -> str:
        return self.model_name or f"labeltune-{project_id}"

    def wanted_classification(self, mapping: FieldMapping) -> str | None:
        """What the answers go to as configured; None: the ontology's single free-text classification."""
        return self.classification or mapping.response_classification


@dataclass(frozen=True)
class Classification:
    """A top-level classification of an ontology, as its `normalized` JSON holds it."""

    name: str
    feature_schema_id: str | None
    type: str
    aliases: tuple[str, ...] = ()

    def matches(self, wanted: str) -> bool:
        """The converter's rule: a classification is named by name/value or feature schema id."""
        return wanted in (self.name, self.feature_schema_id, *self.aliases)


def top_level_classifications(normalized: Mapping[str, Any] | None) -> list[Classification]:
    """The ontology's top-level classifications, read raw (the SDK's classes raise on a type they do not know)."""
    found = []
    for item in (normalized or {}).get("classifications") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        aliases = tuple(
            str(item[key]) for key in ("instructions", "value") if item.get(key) and item[key] != item["name"]
        )
        schema_id = str(item["featureSchemaId"]) if item.get("featureSchemaId") else None
        found.append(Classification(str(item["name"]), schema_id, str(item.get("type") or "unknown"), aliases))
    return found


@dataclass(frozen=True)
class ClassificationChoice:
    """The classification predictions would use, or why there is none (`problem`)."""

    classification: Classification | None
    problem: str | None


def choose_classification(classifications: Sequence[Classification], wanted: str | None) -> ClassificationChoice:
    """The free-text classification a model run's predictions go to: the one named, or the single one."""
    if wanted is not None:
        found = next((c for c in classifications if c.matches(wanted)), None)
        if found is None:
            return ClassificationChoice(None, f"classification {wanted!r} is not in the project's ontology")
        if found.type != PREDICTION_CLASSIFICATION_TYPE:
            return ClassificationChoice(
                None, f"classification {found.name!r} is a {found.type} classification, not free text"
            )
        return ClassificationChoice(found, None)
    free_text = [c for c in classifications if c.type == PREDICTION_CLASSIFICATION_TYPE]
    if len(free_text) == 1:
        return ClassificationChoice(free_text[0], None)
    if not free_text:
        return ClassificationChoice(None, "the project's ontology has no free-text classification for predictions")
    names = ", ".join(repr(c.name) for c in free_text)
    return ClassificationChoice(
        None, f"several free-text classifications ({names}): set predictions.classification to one of them"
    )


@dataclass(frozen=True)
class Prediction:
    """One held-out row's tuned answer and its score (the answer is chat-derived: never logged)."""

    data_row_id: str
    answer: str
    rouge_l: float


def prediction_uuid(run_id: str, data_row_id: str) -> str:
    """The same uuid for a row's prediction on every attempt of a run, so Labelbox sees one annotation."""
    return str(uuid.uuid5(_PREDICTION_NAMESPACE, f"{run_id}/{data_row_id}"))


def prediction_line(run_id: str, classification_name: str, prediction: Prediction) -> dict[str, Any]:
    """The NDJSON line Labelbox imports for a free-text classification answer on a data row."""
    return {
        "uuid": prediction_uuid(run_id, prediction.data_row_id),
        "name": classification_name,
        "answer": prediction.answer,
        "dataRow": {"id": prediction.data_row_id},
    }


@dataclass(frozen=True)
class PredictionsTarget:
    """A run's model run in Labelbox, and the classification its predictions go to."""

    run_name: str  # the model run's name: the labeltune run id
    model_id: str
    model_run_id: str
    classification_name: str
    feature_schema_id: str | None


@dataclass(frozen=True)
class BatchOutcome:
    """What Labelbox made of one import: rows imported, rows it refused, and the first few reasons (ids, error
    names and Labelbox's messages with the answer text taken out)."""

    uploaded: int
    failed_data_row_ids: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return len(self.failed_data_row_ids)


@dataclass(frozen=True)
class ReviewOutcome:
    """Rows sent to the review project, or why none were (`error`)."""

    sent: int
    error: str | None = None
