"""DynamoRunStore on moto: an ended run keeps its status, whatever a step stopped mid-way still writes; the in-memory
fake the pipeline tests use refuses the same writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from labeltune.adapters.dynamodb_runs import DynamoRunStore
from labeltune.errors import RunClosed
from tests.adapters.tables import create_table
from tests.fakes import InMemoryRunStore

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "memory"])
def runs(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryRunStore(clock=lambda: NOW)
        return
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "RunsTable", "runs")
        yield DynamoRunStore("runs", resource=dynamodb, clock=lambda: NOW)


@pytest.mark.parametrize("ended", ["SUCCEEDED", "FAILED", "CANCELLED"])
def test_an_ended_run_is_never_moved_back(runs: Any, ended: str) -> None:
    runs.create_run("run-1", "proj", status="STARTED")
    runs.update_run("run-1", status="EXPORTING")
    runs.update_run("run-1", status=ended, error="Cancelled" if ended == "CANCELLED" else None)
    with pytest.raises(RunClosed, match=f"is {ended}"):
        runs.update_run("run-1", status="PREPARING", dataset_examples=3)
    run = runs.get_run("run-1")
    assert run["status"] == ended
    assert "dataset_examples" not in run  # the refused write changed nothing


def test_a_recorder_may_still_write_an_ended_status_and_other_fields(runs: Any) -> None:
    runs.create_run("run-1", "proj", status="STARTED")
    runs.update_run("run-1", status="CANCELLED")
    runs.update_run("run-1", status="CANCELLED", finished_at="2026-11-20T12:00:00Z")  # a retried recorder
    runs.update_run("run-1", jobs_cancelled=["ftjob-1"])  # the cleanup after the end
    run = runs.get_run("run-1")
    assert (run["status"], run["finished_at"], run["jobs_cancelled"]) == (
        "CANCELLED",
        "2026-11-20T12:00:00Z",
        ["ftjob-1"],
    )
    runs.create_run("run-2", "proj", status="STARTED")
    runs.update_run("run-2", status="SUCCEEDED")
    runs.update_run("run-2", status="FAILED", error="ReportFailed")  # a recorder that failed after SUCCEEDED
    assert runs.get_run("run-2")["status"] == "FAILED"


def test_a_run_in_flight_moves_on(runs: Any) -> None:
    runs.create_run("run-1", "proj", status="STARTED")
    for status in ("EXPORTING", "PREPARING", "TRAINING", "EVALUATING", "SUCCEEDED"):
        runs.update_run("run-1", status=status)
    assert runs.get_run("run-1")["status"] == "SUCCEEDED"


def test_a_missing_run_is_not_created_by_an_update() -> None:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "RunsTable", "runs")
        store = DynamoRunStore("runs", resource=dynamodb, clock=lambda: NOW)
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            store.update_run("nope", status="EXPORTING")
        assert store.get_run("nope") is None
