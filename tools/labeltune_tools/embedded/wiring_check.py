"""The template's wiring as AWS would judge it, where moto does not: who may invoke whom, and what resource
policies let through.

moto invokes any function from any state machine, API Gateway is not emulated at all, and EventBridge rules,
SQS queue policies and S3 bucket policies are never evaluated. So these are checked here against the
translated template, with the physical names the local stack built (a missing permission is a test failure,
not a deployment that silently drops events):

- the state machine's role may invoke every function a Task state calls (lambda:InvokeFunction);
- every API route's function grants API Gateway (apigateway.amazonaws.com) invoke permission for that route;
- every EventBridge rule's Lambda target grants events.amazonaws.com with the rule as SourceArn, and the
  rule's pattern names the stack's state machine;
- a rule's dead-letter queue lets events.amazonaws.com send to it, from that rule only (aws:SourceArn);
- a function's asynchronous-invocation destination is one its role may send to;
- the bucket policy denies none of the S3 calls the functions made (deployed, they go over TLS).
The AWS calls functions make are checked against their roles by labeltune_tools.embedded.iam_check.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labeltune_tools.embedded.iam_check import ACCOUNT_ID, iam_requests, is_allowed
from labeltune_tools.embedded.lambda_runtime import AwsCall
from labeltune_tools.embedded.resources import LocalResources, Resolver

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}  # every deployed call is made over TLS


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str


class _Template:
    """The translated template with its intrinsics resolved to the local stack's physical names."""

    def __init__(self, resources: LocalResources) -> None:
        self.local = resources
        self.resolver = Resolver(resources)
        self.resources: dict[str, Any] = resources.template["Resources"]

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == kind:
                yield logical_id, self.resolver.resolve(resource.get("Properties", {}))

    def role_documents(self, role_arn: str) -> list[dict[str, Any]]:
        """The inline policy documents of the role with this ARN (as the template declares them)."""
        for logical_id, props in self.of_type("AWS::IAM::Role"):
            if self.local.physical.get(logical_id, {}).get("Arn") == role_arn:
                return [{"Version": "2012-10-17", **policy["PolicyDocument"]} for policy in props.get("Policies", [])]
        return []

    def function_arn(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return f"arn:aws:lambda:{self.local.region}:{ACCOUNT_ID}:function:{name_or_arn}"

    def permissions(self, principal: str) -> list[dict[str, Any]]:
        return [
            props
            for _, props in self.of_type("AWS::Lambda::Permission")
            if props.get("Principal") == principal and props.get("Action") == "lambda:InvokeFunction"
        ]

    def may_invoke(self, principal: str, function_arn: str, source_arn: str) -> bool:
        for grant in self.permissions(principal):
            granted_function = self.function_arn(str(grant["FunctionName"]))
            if granted_function.split(":")[:7] != function_arn.split(":")[:7]:
                continue
            pattern = grant.get("SourceArn")
            if pattern is None or fnmatch.fnmatchcase(source_arn, str(pattern)):
                return True
        return False


def _task_functions(definition: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(state name, function ARN) for every Task that invokes a Lambda function, nested states included."""
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            resource = str(state.get("Resource", ""))
            if resource.startswith("arn:aws:states:::lambda:invoke"):
                yield name, str((state.get("Parameters") or {}).get("FunctionName", ""))
            elif ":lambda:" in resource:
                yield name, resource
        for branch in state.get("Branches", []):
            yield from _task_functions(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_functions(state[key])


def _state_machines(t: _Template) -> list[Finding]:
    found = []
    for logical_id, props in t.of_type("AWS::StepFunctions::StateMachine"):
        text = props["DefinitionString"] if isinstance(props.get("DefinitionString"), str) else ""
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        documents = t.role_documents(str(props.get("RoleArn")))
        for state, function in _task_functions(json.loads(text)):
            if not is_allowed(documents, "lambda:InvokeFunction", t.function_arn(function)):
                found.append(
                    Finding("state-machine-invoke", f"{logical_id}.{state}", f"its role may not invoke {function}")
                )
    return found


_INTEGRATION = re.compile(r"functions/(arn:[^/]+)/invocations")


def _api_routes(t: _Template) -> list[Finding]:
    found = []
    for logical_id, props in t.of_type("AWS::ApiGatewayV2::Api"):
        api_id = t.local.physical[logical_id]["Ref"]
        for path, methods in ((props.get("Body") or {}).get("paths") or {}).items():
            for method, spec in methods.items():
                uri = str((spec.get("x-amazon-apigateway-integration") or {}).get("uri", ""))
                match = _INTEGRATION.search(uri)
                if match is None:
                    continue
                concrete = re.sub(r"\{[^}]+\}", "x", path)
                route = (
                    f"arn:aws:execute-api:{t.local.region}:{ACCOUNT_ID}:{api_id}/$default/{method.upper()}{concrete}"
                )
                if not t.may_invoke("apigateway.amazonaws.com", match.group(1), route):
                    found.append(
                        Finding(
                            "api-invoke", f"{method.upper()} {path}", f"API Gateway may not invoke {match.group(1)}"
                        )
                    )
    return found


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """The IAM condition operators labeltune's policies use; an operator not known here counts as holding."""
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            values = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key)
            if operator in ("Bool", "StringEquals", "ArnEquals") and (actual is None or actual.lower() not in values):
                return False
            if operator == "ArnLike" and (actual is None or not any(fnmatch.fnmatchcase(actual, v) for v in values)):
                return False
    return True


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _queue_allows(statement: Mapping[str, Any], queue_arn: str, rule_arn: str) -> tuple[bool, bool]:
    """(lets EventBridge send from this rule, is scoped to this rule by aws:SourceArn)."""
    principal = statement.get("Principal") or {}
    service = principal.get("Service") if isinstance(principal, Mapping) else principal
    if statement.get("Effect") != "Allow" or "events.amazonaws.com" not in _listed(service):
        return False, False
    if not any(fnmatch.fnmatchcase("sqs:SendMessage", a) for a in _listed(statement.get("Action"))):
        return False, False
    if not any(fnmatch.fnmatchcase(queue_arn, r) for r in _listed(statement.get("Resource", "*"))):
        return False, False
    conditions = statement.get("Condition") or {}
    scoped = any("aws:SourceArn" in tests for tests in conditions.values())
    return _conditions_hold(conditions, {"aws:SourceArn": rule_arn}), scoped


def _rules(t: _Template) -> list[Finding]:
    found = []
    queue_policies = list(t.of_type("AWS::SQS::QueuePolicy"))
    for logical_id, props in t.of_type("AWS::Events::Rule"):
        rule_arn = t.local.physical[logical_id]["Arn"]
        detail = (props.get("EventPattern") or {}).get("detail") or {}
        if "stateMachineArn" in detail and t.local.state_machine_arn not in _listed(detail["stateMachineArn"]):
            found.append(Finding("rule-pattern", logical_id, "its pattern does not name the stack's state machine"))
        for target in props.get("Targets", []):
            arn = str(target["Arn"])
            if ":lambda:" in arn and not t.may_invoke("events.amazonaws.com", arn, rule_arn):
                found.append(Finding("rule-invoke", logical_id, f"EventBridge may not invoke {arn} for this rule"))
            dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
            if not dead_letters:
                continue
            queue = next((q for q_id, q in t.local.physical.items() if q.get("Arn") == dead_letters), {})
            allows = [
                _queue_allows(statement, str(dead_letters), rule_arn)
                for _, policy in queue_policies
                if queue.get("Ref") in _listed(policy.get("Queues"))
                for statement in _statements(policy.get("PolicyDocument") or {})
            ]
            if not any(allowed for allowed, _ in allows):
                found.append(Finding("dead-letter-queue", logical_id, f"EventBridge may not send to {dead_letters}"))
            elif not all(scoped for allowed, scoped in allows if allowed):
                found.append(
                    Finding(
                        "dead-letter-queue", logical_id, f"{dead_letters} accepts any rule's events (no aws:SourceArn)"
                    )
                )
    return found


def _destinations(t: _Template) -> list[Finding]:
    found = []
    roles = {name: str(props.get("Role")) for name, props in t.of_type("AWS::Lambda::Function")}
    names = {t.local.physical[name]["Ref"]: name for name in roles}
    for logical_id, props in t.of_type("AWS::Lambda::EventInvokeConfig"):
        function = names.get(str(props.get("FunctionName")))
        for outcome, destination in (props.get("DestinationConfig") or {}).items():
            arn = str(destination.get("Destination", ""))
            if (
                function
                and ":sqs:" in arn
                and not is_allowed(t.role_documents(roles[function]), "sqs:SendMessage", arn)
            ):
                found.append(
                    Finding("invoke-destination", logical_id, f"{function} may not send its {outcome} to {arn}")
                )
    return found


def _bucket_policies(t: _Template, calls: Iterable[AwsCall]) -> list[Finding]:
    found = []
    policies = [
        (str(props.get("Bucket")), props.get("PolicyDocument") or {}) for _, props in t.of_type("AWS::S3::BucketPolicy")
    ]
    for call in calls:
        if call.service != "s3" or "Bucket" not in call.params:
            continue
        for action, resource in iam_requests(call, t.local.region):
            for bucket, document in policies:
                if bucket != call.params["Bucket"]:
                    continue
                for statement in _statements(document):
                    denies = (
                        statement.get("Effect") == "Deny"
                        and any(fnmatch.fnmatchcase(action, a) for a in _listed(statement.get("Action")))
                        and any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("Resource")))
                        and _conditions_hold(statement.get("Condition") or {}, REQUEST_CONTEXT)
                    )
                    if denies:
                        found.append(
                            Finding("bucket-policy", call.function, f"{bucket}'s policy denies {action} on {resource}")
                        )
    return sorted(set(found), key=lambda f: (f.check, f.subject, f.detail))


def findings(resources: LocalResources, calls: Iterable[AwsCall] = ()) -> list[Finding]:
    """Everything the template's wiring gets wrong (empty when it is right)."""
    t = _Template(resources)
    return [
        *_state_machines(t),
        *_api_routes(t),
        *_rules(t),
        *_destinations(t),
        *_bucket_policies(t, calls),
    ]
