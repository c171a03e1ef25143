"""RunStore on DynamoDB: one item per run, flat attributes so the console shows a readable record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from labeltune.clock import Clock, iso, system_clock
from labeltune.domain.models import START_FAILED

PROJECT_INDEX = "by_project"


def _to_dynamo(value: Any) -> Any:
    """DynamoDB wants Decimal, not float; nested maps and lists are converted too."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


class DynamoRunStore:
    def __init__(self, table_name: str, resource: Any | None = None, clock: Clock = system_clock) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._clock = clock

    def create_run(self, run_id: str, project_id: str, **attributes: Any) -> bool:
        stamp = iso(self._clock())
        item = {"run_id": run_id, "project_id": project_id, "created_at": stamp, "updated_at": stamp, **attributes}
        try:
            self._table.put_item(
                Item=_to_dynamo(item),
                ConditionExpression="attribute_not_exists(run_id) OR #error = :start_failed",
                ExpressionAttributeNames={"#error": "error"},
                ExpressionAttributeValues={":start_failed": START_FAILED},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def update_run(self, run_id: str, **attributes: Any) -> None:
        attributes = {k: v for k, v in attributes.items() if v is not None}
        attributes["updated_at"] = iso(self._clock())
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(attributes.values())}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        self._table.update_item(
            Key={"run_id": run_id},
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="attribute_exists(run_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
        return _from_dynamo(item) if item else None

    def list_runs(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        page = self._table.query(
            IndexName=PROJECT_INDEX,
            KeyConditionExpression=Key("project_id").eq(project_id),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_from_dynamo(item) for item in page.get("Items", [])]
