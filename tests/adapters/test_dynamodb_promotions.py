"""DynamoProjectStore.promote_model on moto: one conditional write per promotion, so concurrent promotions (a run
closing while someone rolls back) lose none, the history stays bounded, and the rest of the project is kept."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from labeltune.adapters.dynamodb_projects import PROMOTION_ATTEMPTS, DynamoProjectStore
from labeltune.clock import fixed_clock
from labeltune.domain.promotions import MAX_PROMOTION_HISTORY, ModelPromotion, ProjectModel
from labeltune.errors import TransientError, UnknownProject
from labeltune_tools.embedded.moto_dynamodb import make_moto_dynamodb_atomic
from tests.adapters.tables import create_table

CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")
STALE = "2000-01-01T00:00:00.000+00:00"


@pytest.fixture
def store() -> Iterator[DynamoProjectStore]:
    make_moto_dynamodb_atomic()  # moto alone does not apply a condition and its write atomically
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "ProjectsTable", "projects")
        create_table(dynamodb, "DeliveriesTable", "deliveries")
        projects = DynamoProjectStore("projects", "deliveries", resource=dynamodb, clock=CLOCK, sleep=lambda s: None)
        projects.put_config("p", {"provider": "bedrock", "min_new_labels": 1})
        yield projects


def entry(run_id: str, reason: str = "gate passed") -> ModelPromotion:
    return ModelPromotion(
        run_id=run_id,
        provider="bedrock",
        model_id=f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{run_id}",
        endpoint_id=f"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/{run_id}",
        promoted_at="2026-11-26T10:00:00.000+00:00",
        reason=reason,
    )


def state(store: DynamoProjectStore) -> ProjectModel:
    return ProjectModel.of(store.get_project("p") or {})


def test_a_promotion_is_stored_and_read_back(store: DynamoProjectStore) -> None:
    first = store.promote_model("p", entry("run-a"))
    assert first.changed and first.superseded is None
    second = store.promote_model("p", entry("run-b"))
    assert second.superseded == entry("run-a")
    model = state(store)
    assert model.current == entry("run-b") and model.history == [entry("run-b"), entry("run-a")]
    assert model.version == 2


def test_promoting_the_current_model_again_writes_nothing(store: DynamoProjectStore) -> None:
    store.promote_model("p", entry("run-a"))
    again = store.promote_model("p", entry("run-a", reason="rollback to run-a"))
    assert not again.changed and state(store).version == 1 and len(state(store).history) == 1


def test_the_history_is_bounded(store: DynamoProjectStore) -> None:
    for index in range(MAX_PROMOTION_HISTORY + 3):
        store.promote_model("p", entry(f"run-{index}"))
    history = state(store).history
    assert len(history) == MAX_PROMOTION_HISTORY and history[0].run_id == f"run-{MAX_PROMOTION_HISTORY + 2}"


def test_a_promotion_for_an_unknown_project_creates_nothing(store: DynamoProjectStore) -> None:
    with pytest.raises(UnknownProject):
        store.promote_model("nobody", entry("run-a"))
    assert store.get_project("nobody") is None


def test_the_configuration_and_trigger_state_are_kept(store: DynamoProjectStore) -> None:
    store.record_delivery("p", "d-1", {"topic": "WORKFLOW_ACTION"}, "row:1")
    store.claim_run("p", "run-a", 1, STALE)
    store.promote_model("p", entry("run-a"))
    store.put_config("p", {"provider": "bedrock", "min_new_labels": 5})
    project = store.get_project("p") or {}
    assert project["active_run_id"] == "run-a" and project["config"]["min_new_labels"] == 5
    assert ProjectModel.of(project).current == entry("run-a")


def test_concurrent_promotions_lose_none(store: DynamoProjectStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        changes = list(pool.map(lambda i: store.promote_model("p", entry(f"run-{i}")), range(24)))
    model = state(store)
    assert sorted(e.run_id for e in model.history) == sorted(f"run-{i}" for i in range(24))
    assert model.version == 24 and model.current == model.history[0]
    superseded = [change.superseded.run_id for change in changes if change.superseded is not None]
    assert len(superseded) == 23 and len(set(superseded)) == 23  # each model superseded exactly once


def test_a_promotion_that_keeps_losing_the_race_is_transient(store: DynamoProjectStore) -> None:
    """Every read finds a version another writer moves before the write lands."""
    real_get = store.get_project
    rival = DynamoProjectStore("projects", "deliveries", resource=boto3.resource("dynamodb", region_name="us-east-1"))
    rivals = iter(range(1000))

    def racing(project_id: str) -> dict[str, Any] | None:
        seen = real_get(project_id)
        rival.promote_model("p", entry(f"rival-{next(rivals)}"))
        return seen

    store.get_project = racing  # type: ignore[method-assign]
    try:
        with pytest.raises(TransientError):
            store.promote_model("p", entry("run-a"))
    finally:
        del store.get_project
    assert "run-a" not in {e.run_id for e in state(store).history}
    assert len(state(store).history) == min(PROMOTION_ATTEMPTS, MAX_PROMOTION_HISTORY)
