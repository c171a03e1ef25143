"""DynamoProjectStore's conditional writes on moto: the rules the trigger policy relies on."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from labeltune.adapters.dynamodb_projects import CONFLICT_ATTEMPTS, DynamoProjectStore
from labeltune.clock import fixed_clock, parse_iso
from labeltune.errors import TransientError, UnknownProject
from labeltune_tools.embedded.moto_dynamodb import make_moto_dynamodb_atomic
from tests.adapters.tables import create_table

STALE = "2000-01-01T00:00:00.000+00:00"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")


@pytest.fixture
def store() -> Iterator[DynamoProjectStore]:
    make_moto_dynamodb_atomic()  # moto alone does not apply a condition and its write atomically
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "ProjectsTable", "projects")
        create_table(dynamodb, "DeliveriesTable", "deliveries")
        projects = DynamoProjectStore("projects", "deliveries", resource=dynamodb, clock=CLOCK, sleep=lambda s: None)
        projects.put_config("p", {"min_new_labels": 2})
        yield projects


def count(store: DynamoProjectStore, delivery: str, key: str | None = None) -> Any:
    return store.record_delivery("p", delivery, {"topic": "WORKFLOW_ACTION"}, key or f"row:{delivery}")


def test_a_delivery_is_counted_once(store: DynamoProjectStore) -> None:
    first = count(store, "d-1")
    assert first.first and first.counted and first.pending_labels == 1
    for _ in range(3):
        again = count(store, "d-1")
        assert not again.first and not again.counted
    assert count(store, "d-2").pending_labels == 2


def test_a_label_counts_once_per_run_whatever_the_delivery_id(store: DynamoProjectStore) -> None:
    outcomes = [count(store, f"fresh-{i}", key="row:dr-1") for i in range(20)]
    assert [o.counted for o in outcomes] == [True] + [False] * 19
    assert {o.verdict for o in outcomes[1:]} == {"already_counted"}
    assert store.get_project("p")["pending_labels"] == 1
    assert len(store.list_deliveries("p", limit=100)) == 20  # each delivery is on record
    store.claim_run("p", "run-1", min_pending=1, stale_before=STALE)
    assert count(store, "after-the-claim", key="row:dr-1").counted  # the next run may take it again


def test_deliveries_are_listed_newest_first_without_internal_keys(store: DynamoProjectStore) -> None:
    store.record_delivery("p", "a", {"topic": "WORKFLOW_ACTION", "action": "Reject", "verdict": "sent_back"}, None)
    count(store, "b")
    listed = store.list_deliveries("p")
    assert {d["delivery_id"] for d in listed} == {"a", "b"}
    rejected = next(d for d in listed if d["delivery_id"] == "a")
    assert rejected["action"] == "Reject" and rejected["verdict"] == "sent_back" and rejected["counted"] is False
    assert all("item_key" not in d and "expires_at" not in d for d in listed)
    assert not any(d.get("item_key", "").startswith("count#") for d in listed)  # markers are not deliveries


def test_deliveries_are_listed_newest_first(store: DynamoProjectStore) -> None:
    moments = iter(f"2026-11-26T10:00:0{i}+00:00" for i in range(10))
    store._clock = lambda: parse_iso(next(moments))
    for name in ("first", "second", "third"):
        count(store, name)
    assert [d["delivery_id"] for d in store.list_deliveries("p")] == ["third", "second", "first"]
    assert [d["delivery_id"] for d in store.list_deliveries("p", limit=2)] == ["third", "second"]


def test_deliveries_for_an_unknown_project_change_nothing(store: DynamoProjectStore) -> None:
    with pytest.raises(UnknownProject):
        store.record_delivery("nope", "d-1", {}, "row:x")
    assert store.get_project("nope") is None and store.list_deliveries("nope") == []


def test_claim_takes_the_pending_labels_and_a_retry_of_it_keeps_its_count(store: DynamoProjectStore) -> None:
    count(store, "a")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) is None  # 1 < 2
    count(store, "b")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) == 2
    count(store, "c")
    assert store.claim_run("p", "run-1", min_pending=2, stale_before=STALE) == 2  # retry: same run, no reset
    assert store.claim_run("p", "run-2", min_pending=0, stale_before=STALE) is None  # one run in flight
    assert store.get_project("p")["pending_labels"] == 1
    assert store.get_project("p")["run_generation"] == 1


def test_release_frees_the_slot_and_can_give_labels_back(store: DynamoProjectStore) -> None:
    count(store, "a")
    count(store, "b")
    store.claim_run("p", "run-1", min_pending=2, stale_before=STALE)
    assert store.release_run("p", "run-other") is None
    state = store.release_run("p", "run-1", return_labels=2)
    assert state is not None and "active_run_id" not in state and state["pending_labels"] == 2


def test_concurrent_claims_let_exactly_one_win(store: DynamoProjectStore) -> None:
    for delivery in range(4):
        count(store, f"d-{delivery}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.claim_run("p", f"run-{i}", 1, STALE), range(16)))
    assert sum(result is not None for result in results) == 1


def test_concurrent_deliveries_and_claims_lose_no_label(store: DynamoProjectStore) -> None:
    """Counting races claims: a label counted against a generation a claim just closed is counted again
    against the new one, never lost and never counted twice."""

    def work(i: int) -> Any:
        if i % 10 == 9:
            return store.claim_run("p", f"run-{i}", 1, STALE)
        return count(store, f"d-{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(100)))
    taken = sum(r for i, r in enumerate(results) if i % 10 == 9 and r is not None)
    assert taken + store.get_project("p")["pending_labels"] == 90


class Conflicting:
    """A client whose transactions conflict `times` times (as real DynamoDB's do under concurrent writes)."""

    def __init__(self, client: Any, times: int) -> None:
        self._client, self.times, self.calls = client, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def test_transaction_conflicts_are_retried_then_reported_as_transient(store: DynamoProjectStore) -> None:
    """moto serialises DynamoDB, so it never conflicts; real DynamoDB cancels overlapping transactions."""
    deliveries = store._deliveries_table()
    real = deliveries.meta.client
    flaky = Conflicting(real, times=2)
    deliveries.meta.client = flaky
    try:
        assert count(store, "d-1").counted and flaky.calls == 3
        always = Conflicting(real, times=100)
        deliveries.meta.client = always
        with pytest.raises(TransientError):
            count(store, "d-2")
        assert always.calls == CONFLICT_ATTEMPTS
    finally:
        deliveries.meta.client = real
    assert store.get_project("p")["pending_labels"] == 1


def test_the_local_stack_can_make_moto_conflict_like_dynamodb(store: DynamoProjectStore) -> None:
    """moto serialises every write, so it never cancels a transaction; the local stack injects the conflicts
    real DynamoDB has, and the store retries through them."""
    from labeltune_tools.embedded.moto_dynamodb import CONFLICTS, inject_transaction_conflicts

    inject_transaction_conflicts(0.5, seed=3)
    try:
        outcomes = [count(store, f"d-{i}") for i in range(20)]
    finally:
        injected = CONFLICTS.injected
        inject_transaction_conflicts(0.0)
    assert injected > 0
    assert all(o.counted for o in outcomes) and store.get_project("p")["pending_labels"] == 20
