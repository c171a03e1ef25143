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
from labeltune.clock import now_iso
from labeltune.errors import UnknownProject


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoProjectStore:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

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
            ExpressionAttributeValues={":config": _to_dynamo(dict(config)), ":now": now_iso(), ":zero": 0},
            ReturnValues="ALL_NEW",
        )
        return _from_dynamo(result["Attributes"])

    def record_events(self, project_id: str, count: int = 1) -> dict[str, Any]:
        try:
            result = self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="ADD pending_events :n SET last_event_at = :now",
                ConditionExpression="attribute_exists(project_id)",
                ExpressionAttributeValues={":n": count, ":now": now_iso()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                raise UnknownProject(project_id) from error
            raise
        return _from_dynamo(result["Attributes"])

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
                    ":now": now_iso(),
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

    def release_run(self, project_id: str, run_id: str) -> dict[str, Any] | None:
        try:
            result = self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="REMOVE active_run_id, active_run_started_at, active_run_events "
                "SET last_run_finished_at = :now",
                ConditionExpression="active_run_id = :run",
                ExpressionAttributeValues={":run": run_id, ":now": now_iso()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _from_dynamo(result["Attributes"])
