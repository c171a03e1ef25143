"""Project configuration and runs against the catalog merged with the providers' listings: a live date the
file lacks refuses the PUT, a model the listing no longer has is refused with the reason, and the view warns."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from labeltune.catalog import MIN_LIFETIME, WARN_WITHIN, load_catalog
from labeltune.catalog.live import LiveModel, merge_live
from labeltune.clock import fixed_clock
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import InvalidInput, ModelNotTrainable
from labeltune.pipeline.projects import configure_project, project_view, refuse_untrainable
from tests.fakes import InMemoryProjectStore, InMemoryRunStore

FILE = load_catalog()  # the packaged, dated catalog
TODAY = date(2026, 11, 29)
GPT_4O = "gpt-4o-2024-08-06"  # no shutdown date in the file
OPENAI = {entry.model: LiveModel() for entry in FILE.models if entry.provider == "openai"}
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"


def put(projects: InMemoryProjectStore, changes: dict[str, Any], catalog: Any = FILE) -> dict[str, Any]:
    return configure_project("p", changes, projects, catalog, TODAY, default_provider="openai")


def test_a_live_shutdown_date_the_file_lacks_refuses_the_put() -> None:
    shutdown = TODAY + MIN_LIFETIME - timedelta(days=1)
    live = merge_live(FILE, {"openai": {**OPENAI, GPT_4O: LiveModel(shutdown=shutdown)}}, TODAY)
    assert put(InMemoryProjectStore(), {"base_model": GPT_4O})["warnings"] == []  # the file alone accepts it

    projects = InMemoryProjectStore()
    with pytest.raises(InvalidInput) as refused:
        put(projects, {"base_model": GPT_4O}, live)
    assert refused.value.problems == [
        {
            "field": "base_model",
            "message": f"{GPT_4O} shuts down on 2026-12-05, too soon for a run to train and evaluate",
        }
    ]
    assert projects.get_project("p") is None  # nothing stored


def test_a_model_the_account_no_longer_sees_is_refused_with_the_reason() -> None:
    listing = {name: live for name, live in OPENAI.items() if name != GPT_4O}
    live = merge_live(FILE, {"openai": listing}, TODAY)
    with pytest.raises(InvalidInput) as refused:
        put(InMemoryProjectStore(), {"base_model": GPT_4O}, live)
    (problem,) = refused.value.problems
    assert problem["message"].endswith("OpenAI does not list it for this account (GET /v1/models)")


def test_the_view_warns_of_a_live_date_within_thirty_days() -> None:
    projects = InMemoryProjectStore()
    stored = put(projects, {"base_model": GPT_4O})
    live = merge_live(FILE, {"openai": {**OPENAI, GPT_4O: LiveModel(shutdown=TODAY + WARN_WITHIN)}}, TODAY)
    assert project_view(stored, live, TODAY)["warnings"] == [f"{GPT_4O} shuts down on 2026-12-29 (in 30 days)"]


def test_a_run_on_a_model_bedrock_moved_to_legacy_fails_before_exporting() -> None:
    runs = InMemoryRunStore(clock=fixed_clock("2026-11-29T09:00:00Z"))
    runs.create_run("run-1", "p")
    config = ProjectConfig(provider="bedrock", base_model=NOVA_MICRO)
    live = merge_live(FILE, {"bedrock": {NOVA_MICRO: LiveModel(legacy=True)}}, TODAY)
    refuse_untrainable("run-1", config, FILE, TODAY, runs)  # the file alone: trainable
    with pytest.raises(ModelNotTrainable, match="cannot be fine-tuned on 2026-11-29"):
        refuse_untrainable("run-1", config, live, TODAY, runs)
    record = runs.get_run("run-1")
    assert record is not None
    assert "stopped accepting new fine-tuning jobs on 2026-11-29" in record["model_check"]
