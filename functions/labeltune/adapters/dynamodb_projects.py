"""ProjectStore on DynamoDB: one item per Labelbox project (configuration + trigger state), and the project's
deliveries and counted labels in a second table.

Every state change is conditional, so concurrent webhooks cannot both start a run or count one label twice:
- the project item holds `pending_labels` and `run_generation` (bumped by every claim);
- a delivery is one transaction: its record (`delivery#<id>`, once per delivery id), a count marker
  (`count#<generation>#<key>`, once per label per run) and the project's `ADD pending_labels 1` on the
  condition that the generation has not moved meanwhile.
- the current model and its promotion history (`current_model`, `model_history`) are written whole, on the
  condition that `model_version` (bumped by each promotion) has not moved since they were read.
Real DynamoDB cancels transactions that touch the same items at the same time (TransactionConflict); those
are retried with jittered backoff, and what still conflicts surfaces as a TransientError (the API answers
503 with Retry-After).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from labeltune.adapters.dynamodb_runs import from_dynamo, to_dynamo
from labeltune.clock import Clock, iso, system_clock
from labeltune.domain.models import DeliveryOutcome
from labeltune.domain.promotions import (
    CURRENT_MODEL,
    MODEL_HISTORY,
    MODEL_VERSION,
    ModelPromotion,
    ProjectModel,
    PromotionChange,
    apply_promotion,
)
from labeltune.domain.trigger_policy import Verdict
from labeltune.errors import TransientError, UnknownProject

DELIVERY_TTL_SECONDS = 7 * 24 * 3600  # Labelbox does not redeliver older events
COUNT_MARKER_TTL_SECONDS = 90 * 24 * 3600
DELIVERIES_BY_TIME = "by_time"
CONFLICT_ATTEMPTS = 6
PROMOTION_ATTEMPTS = 20  # promotions are rare (a passing run, a rollback): losing 20 races in a row is an outage


def delivery_key(delivery_id: str) -> str:
    return f"delivery#{delivery_id}"


def count_key_item(generation: int, count_key: str) -> str:
    return f"count#{generation}#{count_key}"


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _cancellation_reasons(error: ClientError) -> list[str]:
    return [str(r.get("Code") or "None") for r in error.response.get("CancellationReasons", [])]


def _is_conflict(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code == "TransactionConflictException" or (
        code == "TransactionCanceledException" and "TransactionConflict" in _cancellation_reasons(error)
    )


def _item(value: Mapping[str, Any]) -> dict[str, Any]:
    """An item for the resource's client (it serialises Python values itself); None values are left out."""
    return {k: to_dynamo(v) for k, v in value.items() if v is not None}


class DynamoProjectStore:
    def __init__(
        self,
        table_name: str,
        deliveries_table_name: str | None = None,
        resource: Any | None = None,
        clock: Clock = system_clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        dynamodb = resource or boto3.resource("dynamodb")
        self._table = dynamodb.Table(table_name)
        self._deliveries = dynamodb.Table(deliveries_table_name) if deliveries_table_name else None
        self._clock = clock
        self._sleep = sleep

    def _retrying(self, operation: Callable[[], Any]) -> Any:
        """Run one conditional write, again after a transaction conflict (full jitter, about 2 s at most)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return operation()
            except ClientError as error:
                if not _is_conflict(error):
                    raise
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise TransientError("DynamoDB transaction conflict persisted; retry later") from error
                self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise AssertionError("unreachable")

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"project_id": project_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace the configuration; trigger state (pending labels, in-flight run) is kept."""
        result = self._retrying(
            lambda: self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="SET #config = :config, updated_at = :now, "
                "created_at = if_not_exists(created_at, :now), pending_labels = if_not_exists(pending_labels, :zero)",
                ExpressionAttributeNames={"#config": "config"},
                ExpressionAttributeValues={":config": to_dynamo(dict(config)), ":now": iso(self._clock()), ":zero": 0},
                ReturnValues="ALL_NEW",
            )
        )
        return from_dynamo(result["Attributes"])

    # -- deliveries ------------------------------------------------------------------------------------
    def _deliveries_table(self) -> Any:
        if self._deliveries is None:
            raise RuntimeError("DynamoProjectStore was built without a deliveries table")
        return self._deliveries

    def record_delivery(
        self, project_id: str, delivery_id: str, record: Mapping[str, Any], count_key: str | None
    ) -> DeliveryOutcome:
        deliveries = self._deliveries_table()
        client = deliveries.meta.client
        now = self._clock()
        expires = int(now.timestamp())
        base = {
            "project_id": project_id,
            "item_key": delivery_key(delivery_id),
            "delivery_id": delivery_id,
            "received_at": iso(now),
            "expires_at": expires + DELIVERY_TTL_SECONDS,
            **record,
        }

        def put_record(verdict: str, counted: bool) -> bool:
            """The record alone (a delivery that counts nothing); False when the delivery id was seen before."""
            try:
                deliveries.put_item(
                    Item=_item({**base, "verdict": verdict, "counted": counted}),
                    ConditionExpression="attribute_not_exists(item_key)",
                )
            except ClientError as error:
                if _conditional_failed(error):
                    return False
                raise
            return True

        def outcome(first: bool, counted: bool, verdict: str) -> DeliveryOutcome:
            project = self.get_project(project_id)
            if project is None:
                raise UnknownProject(project_id)
            return DeliveryOutcome(
                first=first,
                counted=counted,
                verdict=verdict,
                pending_labels=int(project.get("pending_labels", 0)),
                active_run_id=project.get("active_run_id"),
            )

        if self.get_project(project_id) is None:
            raise UnknownProject(project_id)
        if count_key is None:
            verdict = str(record.get("verdict") or Verdict.TOPIC_NOT_COUNTED)
            return outcome(self._retrying(lambda: put_record(verdict, False)), False, verdict)

        while True:
            project = self.get_project(project_id)
            if project is None:
                raise UnknownProject(project_id)
            generation = int(project.get("run_generation", 0))
            try:
                self._retrying(
                    partial(
                        client.transact_write_items,
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": deliveries.name,
                                    "Item": _item({**base, "verdict": Verdict.COUNTED.value, "counted": True}),
                                    "ConditionExpression": "attribute_not_exists(item_key)",
                                }
                            },
                            {
                                "Put": {
                                    "TableName": deliveries.name,
                                    "Item": _item(
                                        {
                                            "project_id": project_id,
                                            "item_key": count_key_item(generation, count_key),
                                            "delivery_id": delivery_id,
                                            "expires_at": expires + COUNT_MARKER_TTL_SECONDS,
                                        }
                                    ),
                                    "ConditionExpression": "attribute_not_exists(item_key)",
                                }
                            },
                            {
                                "Update": {
                                    "TableName": self._table.name,
                                    "Key": _item({"project_id": project_id}),
                                    "UpdateExpression": "ADD pending_labels :one SET last_event_at = :now",
                                    "ConditionExpression": "attribute_exists(project_id) AND "
                                    "(run_generation = :generation OR "
                                    "(attribute_not_exists(run_generation) AND :generation = :zero))",
                                    "ExpressionAttributeValues": _item(
                                        {":one": 1, ":now": iso(now), ":generation": generation, ":zero": 0}
                                    ),
                                }
                            },
                        ],
                    )
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = _cancellation_reasons(error)
                if reasons[0] == "ConditionalCheckFailed":  # this delivery id was recorded before
                    return outcome(False, False, Verdict.ALREADY_COUNTED)
                if reasons[1] == "ConditionalCheckFailed":  # this label counted since the last claim
                    first = self._retrying(lambda: put_record(Verdict.ALREADY_COUNTED, False))
                    return outcome(first, False, Verdict.ALREADY_COUNTED)
                if reasons[2] == "ConditionalCheckFailed":  # a claim moved the generation, or the project went
                    continue
                raise
            return outcome(True, True, Verdict.COUNTED)

    def list_deliveries(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        page = self._deliveries_table().query(
            IndexName=DELIVERIES_BY_TIME,
            KeyConditionExpression=Key("project_id").eq(project_id),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            {k: v for k, v in from_dynamo(item).items() if k not in ("item_key", "expires_at")}
            for item in page.get("Items", [])
        ]

    # -- the in-flight run ------------------------------------------------------------------------------
    def claim_run(self, project_id: str, run_id: str, min_pending: int, stale_before: str) -> int | None:
        def claim() -> Any:
            return self._table.update_item(
                Key={"project_id": project_id},
                UpdateExpression="SET active_run_id = :run, active_run_started_at = :now, "
                "active_run_labels = pending_labels, pending_labels = :zero, last_run_id = :run, "
                "run_generation = if_not_exists(run_generation, :zero) + :one",
                ConditionExpression="attribute_exists(project_id) AND pending_labels >= :min AND "
                "(attribute_not_exists(active_run_id) OR active_run_started_at < :stale)",
                ExpressionAttributeValues={
                    ":run": run_id,
                    ":now": iso(self._clock()),
                    ":zero": 0,
                    ":one": 1,
                    ":min": min_pending,
                    ":stale": stale_before,
                },
                ReturnValues="ALL_NEW",
            )

        try:
            result = self._retrying(claim)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            # A retry of the claim that already won must not reset the labels counted since.
            project = self.get_project(project_id) or {}
            return int(project.get("active_run_labels", 0)) if project.get("active_run_id") == run_id else None
        return int(from_dynamo(result["Attributes"]).get("active_run_labels", 0))

    def release_run(self, project_id: str, run_id: str, return_labels: int = 0) -> dict[str, Any] | None:
        try:
            result = self._retrying(
                lambda: self._table.update_item(
                    Key={"project_id": project_id},
                    UpdateExpression="REMOVE active_run_id, active_run_started_at, active_run_labels "
                    "SET last_run_finished_at = :now ADD pending_labels :returned",
                    ConditionExpression="active_run_id = :run",
                    ExpressionAttributeValues={":run": run_id, ":now": iso(self._clock()), ":returned": return_labels},
                    ReturnValues="ALL_NEW",
                )
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return from_dynamo(result["Attributes"])

    # -- the current model ------------------------------------------------------------------------------
    def promote_model(self, project_id: str, entry: ModelPromotion) -> PromotionChange:
        """Read the project's model state, apply the promotion, and write it on the condition that the state's
        version has not moved (optimistic locking: the history is a list, so the write replaces it whole). A
        promotion that lost the race reads again and reapplies itself on top of the winner."""
        for attempt in range(PROMOTION_ATTEMPTS):
            project = self.get_project(project_id)
            if project is None:
                raise UnknownProject(project_id)
            before = ProjectModel.of(project)
            after, change = apply_promotion(before, entry)
            if not change.changed:
                return change
            values = {f":{name}": value for name, value in after.attributes().items()}

            def write(values: dict[str, Any] = values, version: int = before.version) -> Any:
                return self._table.update_item(
                    Key={"project_id": project_id},
                    UpdateExpression=f"SET {CURRENT_MODEL} = :{CURRENT_MODEL}, {MODEL_HISTORY} = :{MODEL_HISTORY}, "
                    f"{MODEL_VERSION} = :{MODEL_VERSION}",
                    ConditionExpression=f"attribute_exists(project_id) AND ({MODEL_VERSION} = :version OR "
                    f"(attribute_not_exists({MODEL_VERSION}) AND :version = :zero))",
                    ExpressionAttributeValues={**to_dynamo(values), ":version": version, ":zero": 0},
                )

            try:
                self._retrying(write)
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
                continue
            return change
        raise TransientError("the project's model kept changing under concurrent promotions; retry later")
