"""Project configuration through the API: partial updates merged over what is stored (or the defaults)."""

from __future__ import annotations

from typing import Any

from labeltune.domain.project_config import ProjectConfig
from labeltune.ports import ProjectStore
from labeltune.settings import Settings


def default_config(settings: Settings) -> ProjectConfig:
    """A new project starts from the stack's parameters (base model, system prompt, minimum examples)."""
    return ProjectConfig(
        base_model=settings.base_model, system_prompt=settings.system_prompt, min_examples=settings.min_examples
    )


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


def configure_project(project_id: str, changes: dict[str, Any], projects: ProjectStore, settings: Settings) -> dict:
    """Validate the whole resulting configuration before storing any of it (raises pydantic's ValidationError)."""
    current = (projects.get_project(project_id) or {}).get("config") or default_config(settings).model_dump(mode="json")
    config = ProjectConfig.model_validate(_merge(current, changes))
    return projects.put_config(project_id, config.model_dump(mode="json"))
