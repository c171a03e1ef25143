"""Project configuration through the API: partial updates merged over what is stored (or the defaults),
validated as a whole, and refused when its base model cannot be trained (the dated model catalog)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from labeltune.catalog import ModelCatalog, Verdict
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import InvalidInput, field_problems
from labeltune.ports import ProjectStore

PROVIDER = "openai"  # the only fine-tuning provider so far; a per-project choice comes with Bedrock


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


def model_verdict(config: ProjectConfig, catalog: ModelCatalog, today: date) -> Verdict:
    return catalog.check(PROVIDER, config.base_model, today)


def configure_project(
    project_id: str, changes: dict[str, Any], projects: ProjectStore, catalog: ModelCatalog, today: date
) -> dict[str, Any]:
    """Store the merged configuration, or raise InvalidInput (nothing stored) with a problem per field."""
    current = (projects.get_project(project_id) or {}).get("config") or ProjectConfig().model_dump(mode="json")
    try:
        config = ProjectConfig.model_validate(_merge(current, changes))
    except ValidationError as error:
        raise InvalidInput("invalid project configuration", field_problems(error)) from error
    verdict = model_verdict(config, catalog, today)
    if not verdict.trainable:
        problems = [{"field": "base_model", "message": problem} for problem in verdict.problems]
        raise InvalidInput(f"{config.base_model} cannot be fine-tuned now", problems)
    return project_view(projects.put_config(project_id, config.model_dump(mode="json")), catalog, today)


def project_view(project: dict[str, Any], catalog: ModelCatalog, today: date) -> dict[str, Any]:
    """The stored project as the API shows it: with the model catalog's problems and warnings for today."""
    try:
        config = ProjectConfig.model_validate(project.get("config") or {})
    except ValidationError:
        return {**project, "warnings": ["the stored configuration is no longer valid: PUT a corrected one"]}
    verdict = model_verdict(config, catalog, today)
    return {**project, "warnings": [*verdict.problems, *verdict.warnings]}
