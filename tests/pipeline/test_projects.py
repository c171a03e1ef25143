"""Project configuration: validated as a whole, merged over what is stored, defaults from the stack."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from labeltune.domain.project_config import EvaluationThresholds, Hyperparameters, ProjectConfig
from labeltune.pipeline.projects import configure_project
from labeltune.settings import Settings
from tests.fakes import InMemoryProjectStore

SETTINGS = Settings(table_name="t", bucket_name="b", base_model="gpt-4.1-2025-04-14", min_examples=25)


def test_a_new_project_starts_from_the_stack_defaults() -> None:
    projects = InMemoryProjectStore()
    stored = configure_project("p", {}, projects, SETTINGS)
    config = ProjectConfig.model_validate(stored["config"])
    assert config.base_model == "gpt-4.1-2025-04-14" and config.min_examples == 25
    assert config.mapping.prompt_from == "row_data" and config.mapping.response_classification is None
    assert stored["pending_events"] == 0


def test_partial_updates_merge_nested_settings_and_keep_trigger_state() -> None:
    projects = InMemoryProjectStore()
    configure_project("p", {"min_new_labels": 5}, projects, SETTINGS)
    for delivery in ("d1", "d2", "d3", "d3"):
        projects.record_events("p", delivery)
    stored = configure_project("p", {"mapping": {"response_classification": "summary"}}, projects, SETTINGS)
    config = ProjectConfig.model_validate(stored["config"])
    assert config.min_new_labels == 5 and config.mapping.response_classification == "summary"
    assert config.mapping.prompt_from == "row_data"
    assert stored["pending_events"] == 3


@pytest.mark.parametrize(
    "changes",
    [
        {"min_examples": 5},
        {"split": {"train": 0.5, "validation": 0.1, "eval": 0.1}},
        {"hyperparameters": {"n_epochs": 0}},
        {"trigger_topics": ["LABEL_DELETED"]},
        {"unknown_setting": 1},
        {"evaluation": {"max_leak_rate": 2}},
    ],
)
def test_an_invalid_change_is_refused_and_nothing_is_stored(changes: dict) -> None:
    projects = InMemoryProjectStore()
    configure_project("p", {"min_new_labels": 2}, projects, SETTINGS)
    before = projects.get_project("p")
    with pytest.raises(ValidationError):
        configure_project("p", changes, projects, SETTINGS)
    assert projects.get_project("p") == before


def test_only_hand_set_hyperparameters_are_sent() -> None:
    assert Hyperparameters().explicit() == {}
    assert Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5).explicit() == {
        "n_epochs": 3,
        "learning_rate_multiplier": 0.5,
    }


def test_thresholds_explain_what_fails() -> None:
    thresholds = EvaluationThresholds(max_leak_rate=0.05, min_rouge_l=0.2)
    assert thresholds.findings(leak_rate=0.0, rouge_l=0.3) == []
    assert thresholds.findings(leak_rate=0.1, rouge_l=0.1) == [
        "leak rate 0.1000 above the allowed 0.0500",
        "ROUGE-L 0.1000 below the required 0.2000",
    ]
