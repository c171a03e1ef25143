"""The wiring check sees what moto does not enforce: each kind of missing grant is reported.

The template's resources are built in moto (as the local stack builds them), then one grant at a time is
taken out of the translated template; the unmodified template must have no finding at all.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from labeltune_tools.embedded.lambda_runtime import AwsCall
from labeltune_tools.embedded.resources import LocalResources, build_resources
from labeltune_tools.embedded.wiring_check import findings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built() -> Iterator[LocalResources]:
    with mock_aws():
        yield build_resources(boto3.Session(region_name="us-east-1"), ROOT, region="us-east-1")


def resources_of(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def without_invoke_grant_for(function: str) -> Callable[[dict[str, Any]], None]:
    def mutate(template: dict[str, Any]) -> None:
        role = resources_of(template)["PipelineStateMachineRole"]["Properties"]
        role["Policies"] = [p for p in role["Policies"] if function not in str(p["PolicyDocument"])]

    return mutate


def delete(logical_id: str) -> Callable[[dict[str, Any]], None]:
    return lambda template: resources_of(template).pop(logical_id)


def unscope_dead_letters(template: dict[str, Any]) -> None:
    statement = resources_of(template)["UndeliveredEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement.pop("Condition")


def point_rule_elsewhere(template: dict[str, Any]) -> None:
    rule = resources_of(template)["RecordOutcomeFunctionExecutionEndedBadly"]["Properties"]
    rule["EventPattern"]["detail"]["stateMachineArn"] = ["arn:aws:states:us-east-1:123456789012:stateMachine:other"]


def without_destination_grant(template: dict[str, Any]) -> None:
    role = resources_of(template)["RecordOutcomeFunctionRole"]["Properties"]
    role["Policies"] = [p for p in role["Policies"] if "sqs:SendMessage" not in str(p["PolicyDocument"])]


def deny_reads_over_tls(template: dict[str, Any]) -> None:
    policy = resources_of(template)["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]
    statement = copy.deepcopy(policy["Statement"][0])
    statement.pop("Condition")
    statement["Action"] = "s3:GetObject"
    policy["Statement"].append(statement)


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "state machine role without lambda:InvokeFunction": (
        without_invoke_grant_for("PrepareDatasetFunction"),
        "state-machine-invoke",
        "PrepareDataset",
    ),
    "API route without its invoke permission": (delete("ApiFunctionGetRunPermission"), "api-invoke", "GET /runs"),
    "EventBridge target without its invoke permission": (
        delete("RecordOutcomeFunctionExecutionEndedBadlyPermission"),
        "rule-invoke",
        "ExecutionEndedBadly",
    ),
    "rule that does not name the state machine": (point_rule_elsewhere, "rule-pattern", "ExecutionEndedBadly"),
    "dead-letter queue without a policy": (delete("UndeliveredEventsQueuePolicy"), "dead-letter-queue", "may not send"),
    "dead-letter queue open to any rule": (unscope_dead_letters, "dead-letter-queue", "no aws:SourceArn"),
    "on-failure destination the role may not send to": (without_destination_grant, "invoke-destination", "OnFailure"),
    "bucket policy denying what a function does": (deny_reads_over_tls, "bucket-policy", "s3:GetObject"),
}
READ = AwsCall(
    "labeltune-local-PrepareDatasetFunction",
    "s3",
    "GetObject",
    {"Bucket": "labeltune-local-artifactsbucket", "Key": "runs/r/export.ndjson"},
)


def test_the_template_as_written_has_no_finding(built: LocalResources) -> None:
    assert findings(built, [READ]) == []  # the TLS-only bucket policy does not deny a call made over TLS


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_kind_of_missing_grant_is_reported(built: LocalResources, case: str) -> None:
    mutate, check, words = CASES[case]
    broken = copy.deepcopy(built)
    mutate(broken.template)
    reported = findings(broken, [READ])
    assert reported, case
    assert {f.check for f in reported} == {check}
    assert any(words in f.subject or words in f.detail for f in reported), reported
