"""RunStore on DynamoDB: one item per run, flat attributes so the console shows a readable record."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from labeltune.clock import Clock, iso, system_clock
from labeltune.domain.models import FINISHED_RUN_STATUSES, START_FAILED, RunStatus
from labeltune.errors import RunClosed

PROJECT_INDEX = "by_project"


def to_dynamo(value: Any) -> Any:
    """DynamoDB wants Decimal, not float; nested maps and lists are converted too."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


class DynamoRunStore:
    def __init__(self, table_name: str, resource: Any | None = None, clock: Clock = system_clock) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._clock = clock

    def create_run(self, run_id: str, project_id: str, **attributes: Any) -> bool:
        stamp = iso(self._clock())
        item = {"run_id": run_id, "project_id": project_id, "created_at": stamp, "updated_at": stamp, **attributes}
        if "status" in attributes:  # when the status was written: the console's stage durations start here
            item["status_changed_at"] = stamp
        try:
            self._table.put_item(
                Item=to_dynamo(item),
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
        if "status" in attributes:  # the stream's status changes are timed by it (domain/run_events.py)
            attributes["status_changed_at"] = attributes["updated_at"]
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": to_dynamo(value) for i, value in enumerate(attributes.values())}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        condition = "attribute_exists(run_id)"
        if "status" in attributes:
            condition += " AND " + self._status_condition(
                f"#a{list(attributes).index('status')}", f":v{list(attributes).index('status')}", attributes, values
            )
        try:
            self._table.update_item(
                Key={"run_id": run_id},
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException" or "status" not in attributes:
                raise
            run = self.get_run(run_id)
            if run is None:
                raise
            asked = ", a cancel asked" if run.get("cancel_requested_at") else ""
            message = f"run {run_id} is {run.get('status')}{asked}: not moved to {attributes['status']}"
            raise RunClosed(message) from error

    @staticmethod
    def _status_condition(status: str, new: str, attributes: dict[str, Any], values: dict[str, Any]) -> str:
        """domain.models.status_change_allowed as a condition: an ended run keeps its status (the same again is a
        retry; SUCCEEDED may be corrected to FAILED), and SUCCEEDED is written only while no cancel is asked."""
        finished = sorted(FINISHED_RUN_STATUSES)
        values |= {f":ended{i}": value for i, value in enumerate(finished)}
        ended = ", ".join(f":ended{i}" for i in range(len(finished)))
        open_run = f"(attribute_not_exists({status}) OR NOT {status} IN ({ended}))"
        target = attributes["status"]
        if target not in FINISHED_RUN_STATUSES:
            return open_run
        allowed = [open_run, f"{status} = {new}"]
        if target == RunStatus.FAILED.value:
            values[":succeeded"] = RunStatus.SUCCEEDED.value
            allowed.append(f"{status} = :succeeded")
        condition = "(" + " OR ".join(allowed) + ")"
        if target == RunStatus.SUCCEEDED.value:
            condition += " AND attribute_not_exists(cancel_requested_at)"
        return condition

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def list_runs(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        page = self._table.query(
            IndexName=PROJECT_INDEX,
            KeyConditionExpression=Key("project_id").eq(project_id),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [from_dynamo(item) for item in page.get("Items", [])]

    def list_runs_page(
        self, project_id: str, limit: int, after: Mapping[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """One page of the `by_project` index, newest first. One run more than the page is read, so a page that
        ends the listing has no next key (no empty last page); a 1 MB response that stops short is read on."""
        if after is not None and after.get("project_id") != project_id:
            raise ValueError("a page key of another project")  # domain.pagination refuses such tokens first
        items: list[dict[str, Any]] = []
        start: Mapping[str, Any] | None = after
        while len(items) <= limit:
            query: dict[str, Any] = {
                "IndexName": PROJECT_INDEX,
                "KeyConditionExpression": Key("project_id").eq(project_id),
                "ScanIndexForward": False,
                "Limit": limit + 1 - len(items),
            }
            if start:
                query["ExclusiveStartKey"] = dict(start)
            page = self._table.query(**query)
            items.extend(page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        runs = [from_dynamo(item) for item in items[:limit]]
        if len(items) <= limit:
            return runs, None
        last = runs[-1]
        return runs, {"project_id": project_id, "created_at": str(last["created_at"]), "run_id": str(last["run_id"])}

    def request_cancel(self, run_id: str, requested_at: str) -> bool:
        try:
            self._table.update_item(
                Key={"run_id": run_id},
                UpdateExpression="SET cancel_requested_at = :at, updated_at = :now",
                ConditionExpression=(
                    "attribute_exists(run_id) AND attribute_not_exists(cancel_requested_at) "
                    "AND NOT #status IN (:succeeded, :failed, :cancelled)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":at": requested_at,
                    ":now": iso(self._clock()),
                    ":succeeded": RunStatus.SUCCEEDED.value,
                    ":failed": RunStatus.FAILED.value,
                    ":cancelled": RunStatus.CANCELLED.value,
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
