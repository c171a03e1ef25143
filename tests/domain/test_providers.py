"""A project chooses its fine-tuning provider; what belongs to one provider is checked against it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from labeltune.domain.project_config import DEFAULT_BASE_MODELS, Hyperparameters, ProjectConfig, Provider
from labeltune.errors import field_problems
from labeltune.settings import Settings


def test_a_stored_configuration_without_a_provider_is_openais() -> None:
    stored = {"base_model": "gpt-4.1-2025-04-14", "hyperparameters": {"n_epochs": 3}}
    config = ProjectConfig.model_validate(stored)
    assert (config.provider, config.base_model) == ("openai", "gpt-4.1-2025-04-14")


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_naming_a_provider_without_a_model_gives_that_providers_default(provider: Provider) -> None:
    strict = ProjectConfig.model_validate_json(json.dumps({"provider": provider}), strict=True)
    assert strict.base_model == DEFAULT_BASE_MODELS[provider] == ProjectConfig(provider=provider).base_model


def test_an_unknown_provider_is_refused_with_its_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ProjectConfig.model_validate({"provider": "azure"})
    assert [p["field"] for p in field_problems(refused.value)] == ["provider"]


@pytest.mark.parametrize(
    ("provider", "hyperparameters", "message"),
    [
        ("bedrock", {"batch_size": 4}, "batch_size is not a bedrock hyperparameter"),
        ("bedrock", {"learning_rate_multiplier": 2.0}, "learning_rate_multiplier is not a bedrock hyperparameter"),
        ("bedrock", {"n_epochs": 6}, "n_epochs must be between 1 and 5 for bedrock"),
        ("openai", {"learning_rate": 0.00001}, "learning_rate is not a openai hyperparameter"),
        ("openai", {"learning_rate_warmup_steps": 10}, "learning_rate_warmup_steps is not a openai hyperparameter"),
    ],
)
def test_a_hyperparameter_the_provider_does_not_take_is_refused(
    provider: str, hyperparameters: dict[str, float], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ProjectConfig.model_validate({"provider": provider, "hyperparameters": hyperparameters})
    problems = field_problems(refused.value)
    assert [p["field"] for p in problems] == ["hyperparameters"]
    assert message in problems[0]["message"]


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"learning_rate": 0.001}, "hyperparameters.learning_rate"),  # Bedrock's bound: 0.000001-0.0001
        ({"learning_rate": 0}, "hyperparameters.learning_rate"),
        ({"learning_rate_warmup_steps": 101}, "hyperparameters.learning_rate_warmup_steps"),
        ({"learning_rate_warmup_steps": -1}, "hyperparameters.learning_rate_warmup_steps"),
    ],
)
def test_bedrock_bounds_are_checked_per_field(hyperparameters: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ProjectConfig.model_validate({"provider": "bedrock", "hyperparameters": hyperparameters})
    assert field in [p["field"] for p in field_problems(refused.value)]


def test_bedrock_takes_its_own_hyperparameters() -> None:
    chosen = {"n_epochs": 5, "learning_rate": 0.00001, "learning_rate_warmup_steps": 20}
    config = ProjectConfig.model_validate({"provider": "bedrock", "hyperparameters": chosen})
    assert config.hyperparameters.explicit() == chosen
    assert Hyperparameters().explicit() == {}


def test_the_resource_prefix_is_the_stack_name_shortened_uniquely() -> None:
    assert Settings(table_name="t", bucket_name="b", stack_name="labeltune-prod").resource_prefix == "labeltune-prod"
    long_a = Settings(table_name="t", bucket_name="b", stack_name="team-a-" + "x" * 60).resource_prefix
    long_b = Settings(table_name="t", bucket_name="b", stack_name="team-b-" + "x" * 60).resource_prefix
    assert len(long_a) <= 24 and len(long_b) <= 24 and long_a != long_b
    run_id = "run-" + "0" * 24
    assert len(f"{long_a}-{run_id}") <= 63  # Bedrock's name limit
