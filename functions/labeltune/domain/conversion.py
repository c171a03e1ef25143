"""One Labelbox export row -> one chat fine-tuning example, or a rejection with a reason code.

Rules that are easy to get wrong, made explicit here:
- only rows whose workflow status in *this* project is DONE are trained on;
- a row with several labels (rework, consensus) uses the most recently updated one (`LABEL_CHOICE_RULE`);
- prompt and response are found by classification name/value or feature schema id, never by position;
- the prompt is the data row's text for Text projects, or a classification for legacy prompt/response projects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from labeltune.domain.models import ChatExample, Rejection

LABEL_CHOICE_RULE = "latest label by label_details.updated_at (else created_at)"
DONE = "DONE"


class FieldMapping(BaseModel):
    """Where the prompt and the response live in a project's export."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    prompt_from: str = "row_data"  # "row_data", or a classification name / feature schema id
    response_classification: str | None = None  # None: the row's single free-text classification


class Reason:
    """Reason codes for rejected rows: stable strings, counted in reports."""

    MALFORMED = "malformed_row"
    NOT_IN_PROJECT = "not_in_project"
    NOT_DONE = "not_done"
    NO_LABEL = "no_label"
    NO_RESPONSE = "missing_response"
    AMBIGUOUS_RESPONSE = "ambiguous_response"
    EMPTY_RESPONSE = "empty_response"
    NO_PROMPT = "missing_prompt"
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_IS_URL = "prompt_is_url"


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one: a wrongly typed field reads as missing."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text_classifications(label: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    classifications = _list(_mapping(label.get("annotations")).get("classifications"))
    return [c for c in classifications if isinstance(c, Mapping) and isinstance(c.get("text_answer"), Mapping)]


def _matches(classification: Mapping[str, Any], wanted: str) -> bool:
    return wanted in (classification.get("name"), classification.get("value"), classification.get("feature_schema_id"))


def _choose_label(labels: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    def recency(label: Mapping[str, Any]) -> str:
        details = _mapping(label.get("label_details"))
        return str(details.get("updated_at") or details.get("created_at") or "")

    return max(labels, key=recency)


def _find_text(classifications: list[Mapping[str, Any]], wanted: str) -> str | None:
    for classification in classifications:
        if _matches(classification, wanted):
            return str(classification["text_answer"].get("content") or "")
    return None


def convert_row(
    row: Mapping[str, Any], project_id: str, mapping: FieldMapping, system_prompt: str
) -> ChatExample | Rejection:
    """Convert one export row. Never raises on bad data: every problem becomes a Rejection."""
    data_row = row.get("data_row") if isinstance(row, Mapping) else None
    if not isinstance(data_row, Mapping) or not data_row.get("id"):
        return Rejection(data_row_id=None, reason=Reason.MALFORMED)
    data_row_id = str(data_row["id"])

    def reject(reason: str) -> Rejection:
        return Rejection(data_row_id=data_row_id, reason=reason)

    project = _mapping(row.get("projects")).get(project_id)
    if not isinstance(project, Mapping):
        return reject(Reason.NOT_IN_PROJECT)
    status = str(_mapping(project.get("project_details")).get("workflow_status") or "").upper()
    if status != DONE:
        return reject(Reason.NOT_DONE)
    labels = [label for label in _list(project.get("labels")) if isinstance(label, Mapping)]
    if not labels:
        return reject(Reason.NO_LABEL)
    label = _choose_label(labels)
    texts = _text_classifications(label)

    if mapping.response_classification is None:
        candidates = [c for c in texts if not _matches(c, mapping.prompt_from)]
        if len(candidates) > 1:
            return reject(Reason.AMBIGUOUS_RESPONSE)
        response = str(candidates[0]["text_answer"].get("content") or "") if candidates else None
    else:
        response = _find_text(texts, mapping.response_classification)
    if response is None:
        return reject(Reason.NO_RESPONSE)
    if not response.strip():
        return reject(Reason.EMPTY_RESPONSE)

    if mapping.prompt_from == "row_data":
        prompt = data_row.get("row_data")
        if prompt is not None and not isinstance(prompt, str):
            return reject(Reason.MALFORMED)
    else:
        prompt = _find_text(texts, mapping.prompt_from)
    if prompt is None:
        return reject(Reason.NO_PROMPT)
    if not prompt.strip():
        return reject(Reason.EMPTY_PROMPT)
    if prompt.strip().startswith(("https://", "http://")) and "\n" not in prompt.strip():
        return reject(Reason.PROMPT_IS_URL)

    return ChatExample(
        data_row_id=data_row_id,
        split_key=str(data_row.get("global_key") or data_row_id),
        label_id=str(label.get("id") or ""),
        system=system_prompt,
        prompt=prompt.strip(),
        response=response.strip(),
    )
