"""Project configuration through the API: partial updates merged over what is stored (or the defaults),
validated as a whole, and refused when its base model cannot be trained (the dated model catalog).

The merged configuration is validated strictly, as the JSON it arrived as: a string or `true` where a number
belongs is refused, never coerced and stored (pydantic's lax mode would turn "5" into 5 and true into 1). A
refusal names the fields to fix but echoes nothing the caller sent: an unknown key that is not a plain field
name, and a base model the catalog does not know, are described, not repeated.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from pydantic import ValidationError

from labeltune.catalog import ModelCatalog, Verdict
from labeltune.domain.project_config import LEGACY_PROVIDER, ProjectConfig, Provider
from labeltune.errors import InvalidInput, ModelNotTrainable, field_problems
from labeltune.ports import ProjectStore, RunStore

# What belongs to one provider and does not carry over when a project moves to another.
PROVIDER_SPECIFIC = ("base_model", "hyperparameters")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")  # a path part shown as sent; anything else is the caller's text
UNKNOWN_FIELD = "(unknown field)"


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


def model_verdict(config: ProjectConfig, catalog: ModelCatalog, today: date) -> Verdict:
    return catalog.check(config.provider, config.base_model, today)


def _current(stored: dict[str, Any] | None, changes: dict[str, Any], default_provider: Provider) -> dict[str, Any]:
    """What the changes apply to: the stored configuration (one stored before providers were chosen per
    project was OpenAI's), else the defaults of the stack's provider. A change of provider drops the old
    provider's base model and hyperparameters unless the change names them: they would not fit the new one."""
    current = dict(stored) if stored else ProjectConfig(provider=default_provider).model_dump(mode="json")
    current.setdefault("provider", LEGACY_PROVIDER)
    switching = "provider" in changes and changes["provider"] != current["provider"]
    if switching:
        for key in PROVIDER_SPECIFIC:
            current.pop(key, None)
    return current


def _validated(merged: dict[str, Any]) -> ProjectConfig:
    """The configuration validated strictly as JSON (the merge of two JSON documents is one), or InvalidInput."""
    try:
        return ProjectConfig.model_validate_json(json.dumps(merged), strict=True)
    except ValidationError as error:
        raise InvalidInput("invalid project configuration", _unechoed(field_problems(error))) from error


def _unechoed(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    """The problems with every part of a field path that is not a plain name replaced: such a part is a key
    the caller made up (markup, control characters, kilobytes of text), and it is not repeated back."""
    shown = []
    for problem in problems:
        field = problem["field"]
        if field != "(body)":
            field = ".".join(part if _FIELD_NAME.fullmatch(part) else UNKNOWN_FIELD for part in field.split("."))
        shown.append({**problem, "field": field})
    return shown


def _model_problems(config: ProjectConfig, verdict: Verdict, catalog: ModelCatalog, today: date) -> list[str]:
    """Why the base model cannot be trained. The catalog's messages name the model; a model it does not know
    is the caller's own text, so that one is said without it."""
    provider = config.provider
    if catalog.entry(provider, config.base_model) is not None:
        return list(verdict.problems)
    trainable = ", ".join(catalog.trainable_models(provider, today)) or "none"
    return [f"not a model {provider} fine-tunes (trainable now: {trainable})"]


def configure_project(
    project_id: str,
    changes: dict[str, Any],
    projects: ProjectStore,
    catalog: ModelCatalog,
    today: date,
    default_provider: Provider = LEGACY_PROVIDER,
) -> dict[str, Any]:
    """Store the merged configuration, or raise InvalidInput (nothing stored) with a problem per field.
    A new project starts from the defaults of `default_provider` (the stack's DefaultProvider)."""
    stored = (projects.get_project(project_id) or {}).get("config")
    config = _validated(_merge(_current(stored, changes, default_provider), changes))
    verdict = model_verdict(config, catalog, today)
    if not verdict.trainable:
        problems = [{"field": "base_model", "message": m} for m in _model_problems(config, verdict, catalog, today)]
        raise InvalidInput("the base model cannot be fine-tuned now", problems)
    return project_view(projects.put_config(project_id, config.model_dump(mode="json")), catalog, today)


def refuse_untrainable(run_id: str, config: ProjectConfig, catalog: ModelCatalog, today: date, runs: RunStore) -> None:
    """A run whose model the provider will not train (closed since the project was configured) fails at
    its first step, before an export or a dataset is paid for; the reason and the date go on the run."""
    verdict = model_verdict(config, catalog, today)
    if not verdict.trainable:
        message = f"{config.base_model} cannot be fine-tuned on {today.isoformat()}: " + "; ".join(verdict.problems)
        runs.update_run(run_id, model_check=message)
        raise ModelNotTrainable(message)


def project_view(project: dict[str, Any], catalog: ModelCatalog, today: date) -> dict[str, Any]:
    """The stored project as the API shows it: with the model catalog's problems and warnings for today."""
    try:
        config = ProjectConfig.model_validate(project.get("config") or {})
    except ValidationError:
        return {**project, "warnings": ["the stored configuration is no longer valid: PUT a corrected one"]}
    verdict = model_verdict(config, catalog, today)
    return {**project, "warnings": [*verdict.problems, *verdict.warnings]}
