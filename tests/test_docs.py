"""The generated configuration reference and the example configuration stay in step with the schema."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from labeltune.catalog import load_catalog
from labeltune.domain.project_config import Hyperparameters, ProjectConfig
from labeltune.pipeline.projects import configure_project
from labeltune_tools.config_docs import generated_files, render_markdown
from tests.fakes import InMemoryProjectStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "project.json"
SOME_DAY = date(2026, 11, 1)  # a fixed day the example's model is trainable (the catalog is dated)


@pytest.mark.parametrize("path", sorted(generated_files()), ids=str)
def test_committed_file_is_what_the_schema_generates(path: Path) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == generated_files()[path], f"{path} is stale: run `python -m labeltune_tools.config_docs`"


def _field_paths(schema: dict[str, Any], node: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for name, field in node["properties"].items():
        path = f"{prefix}{name}"
        ref = field.get("$ref")
        target = schema["$defs"][ref.rsplit("/", 1)[1]] if ref else field
        paths.append(path)
        if target.get("type") == "object" and "properties" in target:
            paths.extend(_field_paths(schema, target, f"{path}."))
    return paths


def test_every_field_has_a_row_with_its_default() -> None:
    schema = ProjectConfig.model_json_schema()
    doc = render_markdown()
    paths = _field_paths(schema, schema)
    assert len(paths) > 30
    for path in paths:
        assert f"| `{path}` |" in doc, path
    defaults = ProjectConfig().model_dump(mode="json")
    assert f"| `min_new_labels` | integer | `{defaults['min_new_labels']}` | >= 1, <= 1000000 |" in doc
    assert '| `hyperparameters.n_epochs` | "auto" \\| integer | `"auto"` | >= 1, <= 50 |' in doc


def test_hyperparameter_schema_says_auto_or_a_bounded_number() -> None:
    """The fields' plain validators hide their type from pydantic: the schema states it by hand, and each
    bound it states is the validator's (the bound itself passes, just beyond it is refused)."""
    schema = ProjectConfig.model_json_schema()["$defs"]["Hyperparameters"]["properties"]
    assert set(schema) == set(Hyperparameters.model_fields)
    for name, field in schema.items():
        auto, number = field["anyOf"]
        assert auto == {"const": "auto"}
        step = 1 if number["type"] == "integer" else 1e-9
        if "minimum" in number:
            Hyperparameters.model_validate({name: number["minimum"]})
            with pytest.raises(ValueError):
                Hyperparameters.model_validate({name: number["minimum"] - step})
        if "exclusiveMinimum" in number:
            with pytest.raises(ValueError):
                Hyperparameters.model_validate({name: number["exclusiveMinimum"]})
            Hyperparameters.model_validate({name: number["exclusiveMinimum"] + step})
        if "maximum" in number:
            Hyperparameters.model_validate({name: number["maximum"]})
            with pytest.raises(ValueError):
                Hyperparameters.model_validate({name: number["maximum"] + step})


def test_example_project_is_a_complete_valid_configuration() -> None:
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    config = ProjectConfig.model_validate(example)
    assert set(example) == set(ProjectConfig.model_fields) - {"max_tokens_per_example"}
    stored = configure_project("clx-example", example, InMemoryProjectStore(), load_catalog(), SOME_DAY)
    assert stored["config"]["base_model"] == config.base_model
    assert stored["config"]["provider"] == "bedrock"
