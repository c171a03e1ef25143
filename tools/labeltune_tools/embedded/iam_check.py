"""Check the AWS calls each function made against the IAM policies the template gives it.

moto does not enforce IAM for in-process handlers, so a missing permission would only show up after
a deployment. Instead, every call a handler makes is recorded (see lambda_runtime) and evaluated here
with moto's own IAM policy engine against the function role's statements, resolved from the template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labeltune_tools.embedded.lambda_runtime import AwsCall

ACCOUNT_ID = "123456789012"
SERVICE_PREFIX = {"stepfunctions": "states", "bedrock-runtime": "bedrock"}
# Operations whose IAM action is not "<prefix>:<OperationName>".
ACTION_OVERRIDES = {
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "AbortMultipartUpload"): "s3:AbortMultipartUpload",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    # Converse is authorised as InvokeModel (Bedrock user guide, "Converse API").
    ("bedrock-runtime", "Converse"): "bedrock:InvokeModel",
}


@dataclass(frozen=True)
class Denied:
    function: str
    action: str
    resource: str


def iam_action(call: AwsCall) -> str:
    override = ACTION_OVERRIDES.get((call.service, call.operation))
    if override:
        return override
    return f"{SERVICE_PREFIX.get(call.service, call.service)}:{call.operation}"


def iam_resource(call: AwsCall, region: str) -> str:
    """The ARN IAM evaluates for this call (the subset of services labeltune uses)."""
    params = call.params
    if call.service == "dynamodb":
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{params['TableName']}"
        return f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn
    if call.service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        return f"{bucket}/{params['Key']}" if "Key" in params else bucket
    if call.service == "secretsmanager":
        secret = str(params["SecretId"])
        # By name (a project's webhook secret): IAM sees the ARN, whose last part is the name and 6 random characters.
        if secret.startswith("arn:"):
            return secret
        return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}-AbCdEf"
    if call.service == "stepfunctions":
        return str(params.get("stateMachineArn") or params.get("executionArn") or "*")
    if call.service == "lambda":
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{params['FunctionName']}"
    if call.service in ("bedrock", "bedrock-runtime"):
        return _bedrock_resource(call, region)
    if call.service == "events" and call.operation == "PutEvents":  # authorised on each entry's bus
        buses = {str(entry.get("EventBusName") or "default") for entry in params["Entries"]}
        bus = buses.pop() if len(buses) == 1 else "*"
        return bus if bus.startswith("arn:") or bus == "*" else f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{bus}"
    return "*"


def _bedrock_resource(call: AwsCall, region: str) -> str:
    """The Bedrock resource a call names: a job, a custom model, a deployment, or the model Converse asks (a
    foundation model by id, a cross-Region profile such as `us.amazon.nova-...`, or an ARN)."""
    params = call.params
    prefix = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}"
    if call.operation == "CreateModelCustomizationJob":
        return f"{prefix}:model-customization-job/{params['jobName']}"
    if "jobIdentifier" in params:
        return _arn_or(str(params["jobIdentifier"]), f"{prefix}:model-customization-job/")
    if call.operation == "CreateCustomModelDeployment":
        return str(params["modelArn"])
    if "customModelDeploymentIdentifier" in params:
        return _arn_or(str(params["customModelDeploymentIdentifier"]), f"{prefix}:custom-model-deployment/")
    if call.operation == "Converse":
        model = str(params["modelId"])
        if model.startswith("arn:"):
            return model
        if model.split(".", 1)[0] in ("us", "eu", "apac", "global"):
            return f"{prefix}:inference-profile/{model}"
        return f"arn:aws:bedrock:{region}::foundation-model/{model}"
    return "*"  # the List operations take no resource


def _arn_or(identifier: str, arn_prefix: str) -> str:
    return identifier if identifier.startswith("arn:") else arn_prefix + identifier


def is_allowed(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [IAMPolicy(json.dumps(dict(document))).is_action_permitted(action, resource) for document in documents]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_requests(call: AwsCall, region: str) -> list[tuple[str, str]]:
    """(action, resource) pairs IAM authorises for one call. A DynamoDB transaction is authorised item by
    item, with each item's own action on its own table."""
    if call.service == "dynamodb" and call.operation in ("TransactWriteItems", "TransactGetItems"):
        pairs = []
        for item in call.params["TransactItems"]:
            ((kind, body),) = item.items()
            table = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{body['TableName']}"
            pairs.append((f"dynamodb:{_TRANSACT_ACTIONS.get(kind, 'GetItem')}", table))
        return pairs
    pairs = [(iam_action(call), iam_resource(call, region))]
    params, prefix = call.params, f"arn:aws:bedrock:{region}:{ACCOUNT_ID}"
    if call.service == "bedrock" and call.operation == "CreateModelCustomizationJob":
        # Authorised on the job, the custom model it makes and the base model it customizes; and the job runs
        # as the role the caller passes.
        base = str(params["baseModelIdentifier"])
        model = base if base.startswith("arn:") else f"arn:aws:bedrock:{region}::foundation-model/{base}"
        action = "bedrock:CreateModelCustomizationJob"
        pairs += [(action, f"{prefix}:custom-model/{params['customModelName']}"), (action, model)]
        pairs.append(("iam:PassRole", str(params["roleArn"])))
    if call.service == "bedrock" and call.operation == "CreateCustomModelDeployment":
        action = "bedrock:CreateCustomModelDeployment"  # on the model it serves and the deployment it makes
        pairs.append((action, f"{prefix}:custom-model-deployment/{params['modelDeploymentName']}"))
    return pairs


def denied_calls(
    calls: Iterable[AwsCall], role_policies: Mapping[str, list[dict[str, Any]]], region: str
) -> list[Denied]:
    """Every recorded call the function's role would not allow (empty when the template is right)."""
    denied = []
    for call in calls:
        for action, resource in iam_requests(call, region):
            if not is_allowed(role_policies.get(call.function, []), action, resource):
                denied.append(Denied(call.function, action, resource))
    return sorted(set(denied), key=lambda d: (d.function, d.action, d.resource))


@dataclass(frozen=True)
class Grant:
    function: str
    action: str
    resource: str


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def unused_grants(
    calls: Iterable[AwsCall], role_policies: Mapping[str, list[dict[str, Any]]], region: str
) -> list[Grant]:
    """Every (action, resource) a function's role allows that none of its recorded calls needed: least
    privilege, checked from the other side. Wildcards in a grant are matched against the calls' resources."""
    import fnmatch

    requested: dict[str, list[tuple[str, str]]] = {}
    for call in calls:
        requested.setdefault(call.function, []).extend(iam_requests(call, region))
    unused = []
    for function, documents in role_policies.items():
        made = requested.get(function, [])
        for document in documents:
            for statement in document.get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                for action in _listed(statement.get("Action")):
                    for resource in _listed(statement.get("Resource", "*")):
                        if not any(
                            fnmatch.fnmatchcase(a, action) and fnmatch.fnmatchcase(r, resource) for a, r in made
                        ):
                            unused.append(Grant(function, action, resource))
    return sorted(set(unused), key=lambda g: (g.function, g.action, g.resource))
