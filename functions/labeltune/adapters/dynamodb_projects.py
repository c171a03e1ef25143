"""ProjectStore on DynamoDB: one item per Labelbox project (configuration + trigger state).

Every state change is a single conditional UpdateItem, so concurrent webhooks cannot both start a run:
DynamoDB serialises writes to one item, and the condition decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from labeltune.adapters.dynamodb_runs import _from_dynamo, _to_dynamo
from labeltune.clock import Clock, iso, system_clock
from labeltune.errors import UnknownProject

DELIVERY_MARKER_TTL_SECONDS = 7 * 24 * 3600  # Labelbox does not redeliver older events


def delivery_marker(project_id: str, delivery_id: str) -> str:
    """The key of the item that records one counted delivery (same table, expired by TTL)."""
    return f"delivery#{project_id}#{delivery_id}"


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoProjectStore:
    def __init__(self, table_name: str, resource: Any | None = None, clock: Clock = system_clock) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._clock = clock

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"project_id": project_id}, ConsistentRead=True).get("Item")
        return _from_dynamo(item) if item else None

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace the configuration; trigger state (pending events, in-flight run) is kept."""
        result = self._table.update_item(
            Key={"project_id": project_id},
            UpdateExpression="SET #config = :config, updated_at = :now, "
            "created_at = if_not_exists(created_at, :now), pending_events = if_not_exists(pending_events, :zero)",
            ExpressionAttributeNames={"#config": "config"},
            ExpressionAttributeValues={":config": _to_dynamo(dict(config)), ":now": iso(self._clock()), ":zero": 0},
            ReturnValues="ALL_NEW",
        )
        return _from_dynamo(result["Attributes"])

    def record_events(self, project_id: str, delivery_id: str) -> dict[str, Any]:
        """One transaction: a marker item for the delivery (expired by TTL after a week) and the count.
        A repeat finds the marker and counts nothing, even if the first attempt's reply was never sent."""
        client = self._table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                "project_id": delivery_marker(project_id, delivery_id),
                                "expires_at": int(self._clock().timestamp()) + DELIVERY_MARKER_TTL_SECONDS,
                            },
                            "ConditionExpression": "attribute_not_exists(project_id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": {"project_id": project_id},
                            "UpdateExpression": "ADD pending_events :one SET last_event_at = :now",
                            "ConditionExpression": "attribute_exists(project_id)",
                            "ExpressionAttributeValues": {":one": 1, ":now": iso(self._clock())},
                        }
                    },
                ]
            )
        except client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise UnknownProject(project_id) from error
            if not reasons or reasons[0] != "ConditionalCheckFailed":
                raise
            # reasons[0]: this delivery was counted before; nothing to add
        project = self.get_project(project_id)
        if project is None:
            raise UnknownProject(project_id)
        return project

    def claim_run(self, project_id: str, run_id: str, min_pending: int, stale_before: str) -> int | None:
        try:
            result = self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="SET active_run_id = :run, active_run_started_at = :now, "
                "active_run_events = pending_events, pending_events = :zero, last_run_id = :run",
                ConditionExpression="attribute_exists(project_id) AND pending_events >= :min AND "
                "(attribute_not_exists(active_run_id) OR active_run_started_at < :stale)",
                ExpressionAttributeValues={
                    ":run": run_id,
                    ":now": iso(self._clock()),
                    ":zero": 0,
                    ":min": min_pending,
                    ":stale": stale_before,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            # A retry of the claim that already won must not reset the events counted since.
            project = self.get_project(project_id) or {}
            return int(project.get("active_run_events", 0)) if project.get("active_run_id") == run_id else None
        return int(_from_dynamo(result["Attributes"]).get("active_run_events", 0))

    def release_run(self, project_id: str, run_id: str, return_events: int = 0) -> dict[str, Any] | None:
        try:
            result = self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="REMOVE active_run_id, active_run_started_at, active_run_events "
                "SET last_run_finished_at = :now ADD pending_events :returned",
                ConditionExpression="active_run_id = :run",
                ExpressionAttributeValues={":run": run_id, ":now": iso(self._clock()), ":returned": return_events},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _from_dynamo(result["Attributes"])
