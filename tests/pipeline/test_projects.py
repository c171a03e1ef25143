"""Project configuration: validated as a whole, merged over what is stored, refused when it cannot train."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from labeltune.catalog import load_catalog
from labeltune.domain.project_config import EvaluationThresholds, Hyperparameters, ProjectConfig
from labeltune.errors import InvalidInput
from labeltune.pipeline.projects import configure_project, project_view
from tests.fakes import InMemoryProjectStore

CATALOG = load_catalog()  # the packaged, dated catalog
TODAY = date(2026, 11, 29)


def configure(projects: InMemoryProjectStore, changes: dict[str, Any], today: date = TODAY) -> dict[str, Any]:
    return configure_project("p", changes, projects, CATALOG, today)


def test_a_new_project_starts_from_the_defaults() -> None:
    projects = InMemoryProjectStore()
    stored = configure(projects, {})
    config = ProjectConfig.model_validate(stored["config"])
    assert config == ProjectConfig()
    assert config.mapping.prompt_from == "row_data" and config.mapping.response_classification is None
    assert stored["pending_labels"] == 0 and stored["warnings"] == []


def test_partial_updates_merge_nested_settings_and_keep_trigger_state() -> None:
    projects = InMemoryProjectStore()
    configure(projects, {"min_new_labels": 5})
    for delivery in ("d1", "d2", "d3", "d3"):
        projects.record_delivery("p", delivery, {"verdict": "counted"}, f"row:{delivery}")
    stored = configure(projects, {"mapping": {"response_classification": "summary"}})
    config = ProjectConfig.model_validate(stored["config"])
    assert config.min_new_labels == 5 and config.mapping.response_classification == "summary"
    assert config.mapping.prompt_from == "row_data"
    assert stored["pending_labels"] == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_examples": 5}, "min_examples"),
        ({"split": {"train": 0.9}}, "split"),  # merged over 0.1/0.1: sums to 1.1
        ({"split": {"train": 0.5, "validation": 0.1, "eval": 0.1}}, "split"),
        ({"split": {"eval": -0.5}}, "split.eval"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"batch_size": 999}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate_multiplier": -1}}, "hyperparameters.learning_rate_multiplier"),
        ({"hyperparameters": {"learning_rate_multiplier": float("inf")}}, "hyperparameters.learning_rate_multiplier"),
        ({"trigger_topics": ["LABEL_DELETED"]}, "trigger_topics.0"),
        ({"unknown_setting": 1}, "unknown_setting"),
        ({"evaluation": {"max_leak_rate": 2}}, "evaluation.max_leak_rate"),
        ({"base_model": ""}, "base_model"),
        ({"base_model": "   "}, "base_model"),
        ({"base_model": "gpt 4"}, "base_model"),
        ({"base_model": None}, "base_model"),
        ({"mapping": {"prompt_from": ""}}, "mapping.prompt_from"),
        ({"mapping": {"response_classification": " "}}, "mapping.response_classification"),
        ({"system_prompt": "  "}, "system_prompt"),
        ({"min_new_labels": -1}, "min_new_labels"),
        ({"min_new_labels": 0}, "min_new_labels"),
        ({"max_tokens_per_example": 0}, "max_tokens_per_example"),
        ({"base_model": "gpt-5"}, "base_model"),  # cannot be fine-tuned
        ({"base_model": "gpt-4.1-nano-2025-04-14"}, "base_model"),  # retired 2026-10-23
        # JSON allows any number of digits: float() of such an int raised OverflowError (a 500).
        ({"hyperparameters": {"n_epochs": 10**400}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"batch_size": -(10**400)}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate_multiplier": 10**400}}, "hyperparameters.learning_rate_multiplier"),
        # A wrong type is refused, not coerced and stored ("5" was stored as 5, true as 1).
        ({"min_new_labels": "5"}, "min_new_labels"),
        ({"min_new_labels": True}, "min_new_labels"),
        ({"max_tokens_per_example": "100"}, "max_tokens_per_example"),
        ({"split": {"train": "0.8"}}, "split.train"),
        ({"evaluation": {"max_leak_rate": False}}, "evaluation.max_leak_rate"),
    ],
)
def test_an_invalid_change_is_refused_field_by_field_and_nothing_is_stored(changes: dict, field: str) -> None:
    projects = InMemoryProjectStore()
    configure(projects, {"min_new_labels": 2})
    before = projects.get_project("p")
    with pytest.raises(InvalidInput) as refused:
        configure(projects, changes)
    assert field in {problem["field"] for problem in refused.value.problems}
    assert all(set(problem) == {"field", "message"} for problem in refused.value.problems)
    assert all(isinstance(problem["message"], str) and problem["message"] for problem in refused.value.problems)
    assert projects.get_project("p") == before


def test_numbers_are_accepted_as_json_writes_them() -> None:
    """Strict about types, not about how JSON spells a number: 1 is a float, 3.0 a whole number of epochs."""
    stored = configure(
        InMemoryProjectStore(),
        {"evaluation": {"max_leak_rate": 1}, "hyperparameters": {"n_epochs": 3.0, "learning_rate_multiplier": 2}},
    )
    config = ProjectConfig.model_validate(stored["config"])
    assert config.evaluation.max_leak_rate == 1.0 and config.hyperparameters.n_epochs == 3
    assert config.hyperparameters.learning_rate_multiplier == 2.0


@pytest.mark.parametrize(
    "changes",
    [
        {"<script>zq-canary</script>": 1},  # an unknown key is the caller's text: not a field name to show
        {"mapping": {"zq-canary\u0000\u202e": 1}},
        {"zq_canary" * 20: 1},  # a plain name, but longer than any field
        {"base_model": "<script>zq-canary</script>"},  # a model the catalog does not know
        {"base_model": "zq-canary-model"},
    ],
)
def test_a_refusal_repeats_nothing_the_caller_sent(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        configure(InMemoryProjectStore(), changes)
    shown = json.dumps({"message": refused.value.message, "errors": refused.value.problems}, ensure_ascii=False)
    assert "canary" not in shown and "<script" not in shown
    assert refused.value.problems  # still says which field: "(unknown field)", "mapping.(unknown field)"...


def test_several_mistakes_are_all_reported() -> None:
    with pytest.raises(InvalidInput) as refused:
        configure(InMemoryProjectStore(), {"min_examples": 1, "min_new_labels": 0, "hyperparameters": {"n_epochs": 99}})
    fields = {problem["field"] for problem in refused.value.problems}
    assert fields == {"min_examples", "min_new_labels", "hyperparameters.n_epochs"}


def test_a_model_openai_no_longer_trains_is_refused_on_the_day_it_closes() -> None:
    projects = InMemoryProjectStore()
    configure(projects, {"base_model": "gpt-4.1-mini-2025-04-14"}, today=date(2027, 1, 5))
    with pytest.raises(InvalidInput) as refused:
        configure(projects, {"min_new_labels": 3}, today=date(2027, 1, 6))
    messages = " ".join(p["message"] for p in refused.value.problems)
    assert "stopped accepting new fine-tuning jobs on 2027-01-06" in messages


def test_the_stored_project_warns_within_thirty_days_of_a_date() -> None:
    projects = InMemoryProjectStore()
    stored = configure(projects, {}, today=date(2026, 12, 10))
    assert any("2027-01-06" in warning for warning in stored["warnings"])
    shown = project_view(projects.get_project("p"), CATALOG, date(2026, 11, 1))
    assert shown["warnings"] == []


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


def test_a_run_whose_model_closed_since_it_was_configured_fails_before_exporting() -> None:
    from labeltune.errors import ModelNotTrainable
    from labeltune.pipeline.projects import refuse_untrainable
    from tests.fakes import InMemoryRunStore

    runs = InMemoryRunStore()
    runs.create_run("run-1", "p")
    config = ProjectConfig(base_model="gpt-4.1-mini-2025-04-14")
    refuse_untrainable("run-1", config, CATALOG, date(2027, 1, 5), runs)  # still open: nothing happens
    assert "model_check" not in runs.get_run("run-1")
    with pytest.raises(ModelNotTrainable, match="cannot be fine-tuned on 2027-01-06"):
        refuse_untrainable("run-1", config, CATALOG, date(2027, 1, 6), runs)
    assert "stopped accepting new fine-tuning jobs on 2027-01-06" in runs.get_run("run-1")["model_check"]


def test_a_new_project_gets_the_stacks_default_provider_and_its_model() -> None:
    projects = InMemoryProjectStore()
    stored = configure_project("p", {}, projects, CATALOG, TODAY, default_provider="bedrock")
    config = ProjectConfig.model_validate(stored["config"])
    assert (config.provider, config.base_model) == ("bedrock", "amazon.nova-micro-v1:0:128k")
    assert stored["warnings"] == []


def test_a_project_stored_before_providers_stays_with_openai_under_a_bedrock_stack() -> None:
    projects = InMemoryProjectStore()
    legacy = ProjectConfig().model_dump(mode="json")
    del legacy["provider"]
    projects.put_config("p", legacy)
    stored = configure_project("p", {"min_new_labels": 3}, projects, CATALOG, TODAY, default_provider="bedrock")
    assert (stored["config"]["provider"], stored["config"]["base_model"]) == ("openai", "gpt-4.1-mini-2025-04-14")


def test_moving_to_another_provider_takes_its_default_model_and_drops_the_old_hyperparameters() -> None:
    projects = InMemoryProjectStore()
    configure(projects, {"hyperparameters": {"batch_size": 8, "n_epochs": 4}, "min_new_labels": 7})
    stored = configure(projects, {"provider": "bedrock"})
    config = ProjectConfig.model_validate(stored["config"])
    assert (config.provider, config.base_model) == ("bedrock", "amazon.nova-micro-v1:0:128k")
    assert config.hyperparameters == Hyperparameters() and config.min_new_labels == 7  # the rest is kept


def test_moving_provider_with_a_model_of_the_new_one_keeps_what_the_change_names() -> None:
    projects = InMemoryProjectStore()
    configure(projects, {})
    changes = {"provider": "bedrock", "base_model": "amazon.nova-lite-v1:0:300k", "hyperparameters": {"n_epochs": 3}}
    config = ProjectConfig.model_validate(configure(projects, changes)["config"])
    assert (config.base_model, config.hyperparameters.n_epochs) == ("amazon.nova-lite-v1:0:300k", 3)


def test_a_model_of_the_other_provider_is_refused_by_name_of_the_projects_provider() -> None:
    projects = InMemoryProjectStore()
    with pytest.raises(InvalidInput) as refused:
        configure(projects, {"provider": "bedrock", "base_model": "gpt-4.1-mini-2025-04-14"})
    (problem,) = refused.value.problems
    assert problem["field"] == "base_model"
    assert problem["message"].startswith("not a model bedrock fine-tunes (trainable now: amazon.nova-micro-v1:0:128k")
    assert projects.get_project("p") is None  # nothing stored


def test_openai_projects_are_refused_once_openai_closes_while_bedrock_ones_are_not() -> None:
    projects = InMemoryProjectStore()
    closed = date(2027, 1, 6)
    with pytest.raises(InvalidInput, match="cannot be fine-tuned"):
        configure_project("p", {"provider": "openai"}, projects, CATALOG, closed)
    stored = configure_project("p", {"provider": "bedrock"}, projects, CATALOG, closed)
    assert stored["config"]["provider"] == "bedrock" and stored["warnings"] == []
