"""DynamoProjectStore's conditional writes on moto: the rules the trigger policy relies on."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws

from labeltune.adapters.dynamodb_projects import DynamoProjectStore
from labeltune.errors import UnknownProject
from labeltune.local.moto_dynamodb import make_moto_dynamodb_atomic

STALE = "2000-01-01T00:00:00.000+00:00"


@pytest.fixture
def store() -> Iterator[DynamoProjectStore]:
    make_moto_dynamodb_atomic()  # moto alone does not apply a condition and its write atomically
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="projects",
            KeySchema=[{"AttributeName": "project_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "project_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        projects = DynamoProjectStore("projects", resource=dynamodb)
        projects.put_config("p", {"min_new_labels": 2})
        yield projects


def test_a_delivery_is_counted_once(store: DynamoProjectStore) -> None:
    for _ in range(3):
        store.record_events("p", "d-1")
    assert store.record_events("p", "d-2")["pending_events"] == 2


def test_events_for_an_unknown_project_change_nothing(store: DynamoProjectStore) -> None:
    with pytest.raises(UnknownProject):
        store.record_events("nope", "d-1")
    assert store.get_project("nope") is None


def test_claim_takes_the_pending_events_and_a_retry_of_it_keeps_its_count(store: DynamoProjectStore) -> None:
    store.record_events("p", "a")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) is None  # 1 < 2
    store.record_events("p", "b")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) == 2
    store.record_events("p", "c")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) == 2  # retry: same run, no reset
    assert store.claim_run("p", "run-2", min_pending=0, stale_before=STALE) is None  # one run in flight
    assert store.get_project("p")["pending_events"] == 1


def test_release_frees_the_slot_and_can_give_events_back(store: DynamoProjectStore) -> None:
    store.record_events("p", "a")
    store.record_events("p", "b")
    store.claim_run("p", "run-1", min_pending=2, stale_before=STALE)
    assert store.release_run("p", "run-other") is None
    state = store.release_run("p", "run-1", return_events=2)
    assert state is not None and "active_run_id" not in state and state["pending_events"] == 2


def test_concurrent_claims_let_exactly_one_win(store: DynamoProjectStore) -> None:
    for delivery in range(4):
        store.record_events("p", f"d-{delivery}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.claim_run("p", f"run-{i}", 1, STALE), range(16)))
    assert sum(result is not None for result in results) == 1
