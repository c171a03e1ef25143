"""Build the template's resources in moto, from the SAM template itself.

`template.yaml` is translated offline to CloudFormation (samtranslator), its intrinsic functions are
resolved the way CloudFormation would, and each resource is created through the ordinary AWS APIs
against moto. What the local stack runs is therefore what `sam deploy` ships: the same table keys and
indexes, the same environment variables, the same state machine definition with its substitutions,
and the same IAM policies (recorded, so tests can check every AWS call a function makes against them).

Resource types moto cannot serve are listed in `LocalResources.not_emulated`; the HTTP API is served
by uvicorn instead, from the routes the template declares.

Why not moto's CloudFormation (checked with moto 5.2.5)
-------------------------------------------------------
`cloudformation.create_stack` on the translated template runs in about 1.5 s once the placeholder code object
(`s3://labeltune-local-artifacts/functions.zip`) exists; without it create_stack itself errors (moto answers
NoSuchBucket in JSON to a query-protocol call, botocore raises ResponseParserError). It then reports
CREATE_COMPLETE, but what it built is not the template. `tests/infra/test_moto_cloudformation.py` asserts each
point below, so a moto release that closes one fails that test:

- Skipped, no model (it logs "No Moto CloudFormation support for <type>" and lists a row without logical id):
  AWS::SecretsManager::Secret, AWS::ApiGatewayV2::Api, AWS::ApiGatewayV2::Stage, AWS::Lambda::EventInvokeConfig,
  AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy. A Ref to a skipped resource resolves to None: the three
  `*_SECRET_ARN` variables vanish from every function's environment, SAM's AWSSecretsManagerGetSecretValuePolicy
  grants `"Resource": "None"`, the Lambda permissions' SourceArn reads `...:None/*/GET/runs/*`, and the outputs
  lose the secret ARNs or keep a literal `${HttpApi}`. No secret, so no generated secret value, exists.
- AWS::StepFunctions::StateMachine: DefinitionSubstitutions are ignored (every Task's Resource stays
  `${ExportLabelsFunctionArn}` ...), and so are LoggingConfiguration (level OFF) and TracingConfiguration.
- AWS::DynamoDB::Table: keys, GSI and LSI (DeliveriesTable's by_time) are right; TimeToLiveSpecification and
  PointInTimeRecoverySpecification are ignored; SSESpecification reaches a model that reads the API's `Enabled`,
  not CloudFormation's `SSEEnabled`, so no table is encrypted.
- AWS::S3::Bucket: only BucketEncryption (and Tags) is applied; VersioningConfiguration,
  PublicAccessBlockConfiguration, OwnershipControls, LoggingConfiguration and LifecycleConfiguration are not.
- AWS::Lambda::Function: Architectures (arm64 becomes x86_64), EphemeralStorage and TracingConfig are ignored;
  a Ref to a Number parameter stays a number in Environment (CloudFormation passes the string).
- AWS::IAM::Role: inline Policies are stored unvalidated as dicts, and GetRolePolicy answers their Python repr
  (`{'Statement': ...}`), not JSON. ManagedPolicyArns are not attached (nor are they below).
- Parameters: MinValue and AllowedValues are not enforced. Fn::Sub's two-argument form turns `$$` into `$`
  (string.Template); today's template has no such Sub.
- Built faithfully: SQS::Queue, Logs::LogGroup, Events::Rule (with its target's retry policy and dead-letter
  queue), Lambda::Permission (apart from the None API id), Conditions with Fn::If and AWS::NoValue, and the
  definition's text.

Using it would take a rewrite of the template before create_stack for the secrets (their Refs are None before any
post-step could run), post-steps for the state machine, tables, buckets, functions and roles, and reading back
random physical names; that is no shorter than creating the resources here, and less plain. The build below
does not apply the state machine's logging and tracing, the functions' EphemeralStorage, TracingConfig and
ReservedConcurrentExecutions, or the buckets' OwnershipControls, logging and lifecycle either: none of them
changes what a handler sees locally.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeltune_tools.embedded.template import load_template, translate_template

ACCOUNT_ID = "123456789012"
NOT_EMULATED = {
    "AWS::ApiGatewayV2::Api": "served by uvicorn from the same Powertools app",
    "AWS::ApiGatewayV2::Stage": "served by uvicorn",
    "AWS::Lambda::Permission": "API Gateway is not emulated",
    "AWS::S3::BucketPolicy": "its TLS-only rule would deny every call on the plain-HTTP local endpoint",
    "AWS::Events::Rule": "not created in moto; the stack delivers the Bedrock emulator's events to the rules' "
    "Lambda targets itself (EmbeddedStack.deliver_event), without the rule's retries and dead-letter queue; moto "
    "emits no Step Functions status events",
    "AWS::Lambda::EventInvokeConfig": "asynchronous invocation is not emulated",
    "AWS::SQS::QueuePolicy": "only EventBridge uses it",
    "AWS::Lambda::EventSourceMapping": "the stack's pump (run_stream.py) reads the table's stream from moto and "
    "invokes the function with each batch, in order, without the mapping's retries and on-failure destination",
    "AWS::CloudWatch::Dashboard": "no CloudWatch locally (metrics are not published)",
    "AWS::CloudWatch::Alarm": "no CloudWatch locally",
    "AWS::SNS::Topic": "alarms only",
    "AWS::SNS::TopicPolicy": "alarms only",
    "AWS::KMS::Key": "the alarm topic's key",
}


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule as the template declares it: its pattern, and the functions it invokes."""

    logical_id: str
    pattern: dict[str, Any]
    function_names: tuple[str, ...]


@dataclass
class LocalResources:
    """Physical names of what was built, and what the template declared about it."""

    stack_name: str
    region: str
    parameters: dict[str, str]
    physical: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {Ref, Arn, Name}
    function_names: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    function_environment: dict[str, dict[str, str]] = field(default_factory=dict)
    role_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # function name -> documents
    role_documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role logical id -> documents
    secret_values: dict[str, str] = field(default_factory=dict)  # logical id -> value
    routes: list[tuple[str, str, str]] = field(default_factory=list)  # (METHOD, path, authorizer)
    route_functions: dict[tuple[str, str], str] = field(default_factory=dict)  # (METHOD, path) -> function logical id
    event_rules: list[EventRule] = field(default_factory=list)
    not_emulated: dict[str, str] = field(default_factory=dict)
    environment_keys: set[str] = field(default_factory=set)  # every variable any function declares
    definition: str = ""
    template: dict[str, Any] = field(default_factory=dict)  # the translated CloudFormation the stack was built from

    def ref(self, logical_id: str) -> str:
        return self.physical[logical_id]["Ref"]

    @property
    def table_name(self) -> str:
        return self.ref("RunsTable")

    @property
    def bucket_name(self) -> str:
        return self.ref("ArtifactsBucket")

    @property
    def state_machine_arn(self) -> str:
        return self.ref("PipelineStateMachine")


class Resolver:
    """CloudFormation intrinsic functions over known parameter values and physical ids."""

    def __init__(self, resources: LocalResources) -> None:
        self.r = resources
        self.pseudo = {
            "AWS::Region": resources.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": resources.stack_name,
        }

    def condition(self, name: str) -> bool:
        """A named condition of the template's Conditions section."""
        return bool(self.resolve(self.r.template.get("Conditions", {})[name]))

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.r.parameters:
            return self.r.parameters[name]
        return self.r.physical[name]["Ref"]

    def get_att(self, logical_id: str, attribute: str) -> str:
        return self.r.physical[logical_id][attribute]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::Equals":
                left, right = (str(self.resolve(side)) for side in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(part) for part in arg)
            if key == "Fn::Or":
                return any(self.resolve(part) for part in arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, variables)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


_NO_VALUE = object()  # AWS::NoValue: the property is left out


def check_parameters(declared: dict[str, Any], values: dict[str, str]) -> None:
    """Refuse parameter values CloudFormation would refuse (MinValue, MaxValue, AllowedValues, AllowedPattern)."""
    for name, spec in declared.items():
        value = values[name]
        problem = None
        if spec.get("Type") == "Number":
            number = float(value)
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problem = f"below its MinValue {spec['MinValue']}"
            elif "MaxValue" in spec and number > float(spec["MaxValue"]):
                problem = f"above its MaxValue {spec['MaxValue']}"
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problem = f"not one of {spec['AllowedValues']}"
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problem = f"not matching {spec['AllowedPattern']}"
        if problem:
            raise ValueError(f"parameter {name}={value!r} is {problem}")


def _physical_ids(logical_id: str, kind: str, stack: str, region: str) -> dict[str, str]:
    name = f"{stack}-{logical_id}"
    arn_prefix = f"arn:aws:{{}}:{region}:{ACCOUNT_ID}"
    if kind == "AWS::DynamoDB::Table":
        return {"Ref": name, "Arn": f"{arn_prefix.format('dynamodb')}:table/{name}"}
    if kind == "AWS::S3::Bucket":
        bucket = name.lower()
        return {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    if kind == "AWS::Lambda::Function":
        return {"Ref": name, "Arn": f"{arn_prefix.format('lambda')}:function:{name}"}
    if kind == "AWS::IAM::Role":
        return {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
    if kind == "AWS::StepFunctions::StateMachine":
        arn = f"{arn_prefix.format('states')}:stateMachine:{name}"
        return {"Ref": arn, "Arn": arn, "Name": name}
    if kind == "AWS::Logs::LogGroup":
        group = f"/labeltune/{name}"
        return {"Ref": group, "Arn": f"{arn_prefix.format('logs')}:log-group:{group}:*"}
    if kind == "AWS::SQS::Queue":
        return {
            "Ref": f"http://sqs.{region}.localhost/{ACCOUNT_ID}/{name}",
            "Arn": f"{arn_prefix.format('sqs')}:{name}",
            "QueueName": name,
        }
    if kind == "AWS::ApiGatewayV2::Api":
        return {"Ref": "local", "ApiEndpoint": "http://localhost"}
    if kind == "AWS::Events::Rule":
        return {"Ref": name, "Arn": f"{arn_prefix.format('events')}:rule/{name}"}
    return {"Ref": name}


def _placeholder_zip() -> bytes:
    """moto wants a code package; the local runtime imports the handler from the installed package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "labeltune local stack: handlers run in process from the labeltune package\n")
    return buffer.getvalue()


def _secret_value(logical_id: str, properties: dict[str, Any], local_secrets: dict[str, str]) -> str:
    if logical_id in local_secrets:
        return local_secrets[logical_id]
    length = int(properties.get("GenerateSecretString", {}).get("PasswordLength", 32))
    return secrets.token_hex(length)[:length]


def route_functions(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the logical id of the function serving it, for every HttpApi event."""
    served = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                served[(event["Properties"]["Method"].upper(), event["Properties"]["Path"])] = logical_id
    return served


def http_api_routes(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path, authorizer) for every HttpApi event declared on a function."""
    api_auth = {}
    routes = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::HttpApi":
            api_auth[logical_id] = resource.get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer", "NONE")
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event["Properties"]
            api = props.get("ApiId", {}).get("Ref") if isinstance(props.get("ApiId"), dict) else None
            authorizer = props.get("Auth", {}).get("Authorizer", api_auth.get(api, "NONE"))
            routes.append((props["Method"].upper(), props["Path"], authorizer))
    return routes


def build_resources(
    session: Any,
    root: Path,
    *,
    stack_name: str = "labeltune-local",
    region: str = "us-east-1",
    parameters: dict[str, str] | None = None,
    local_environment: dict[str, str] | None = None,
    local_secrets: dict[str, str] | None = None,
) -> LocalResources:
    """Create every resource of root/template.yaml in the AWS endpoint `session` talks to (moto)."""
    raw = load_template(root / "template.yaml")
    declared = {name: str(spec.get("Default", "")) for name, spec in raw.get("Parameters", {}).items()}
    unknown = set(parameters or {}) - set(declared)
    if unknown:
        raise ValueError(f"not template parameters: {sorted(unknown)}")
    values = {**declared, **(parameters or {})}
    check_parameters(raw.get("Parameters", {}), values)
    cfn = translate_template(raw, values, base_dir=root, region=region)
    resources = LocalResources(stack_name=stack_name, region=region, parameters=values, template=cfn)
    resources.routes = http_api_routes(raw)
    resources.route_functions = route_functions(raw)
    resolver = Resolver(resources)
    for logical_id, resource in cfn["Resources"].items():
        resources.physical[logical_id] = _physical_ids(logical_id, resource["Type"], stack_name, region)
        fixed_name = resource.get("Properties", {}).get("StateMachineName")
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and fixed_name:
            name = resolver.resolve(fixed_name)  # a fixed name may only use parameters and pseudo parameters
            arn = f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}"
            resources.physical[logical_id] = {"Ref": arn, "Arn": arn, "Name": name}
    clients = {
        name: session.client(name, region_name=region)
        for name in ("secretsmanager", "dynamodb", "s3", "iam", "logs", "lambda", "stepfunctions", "sqs")
    }
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in cfn["Resources"].items():
        by_type.setdefault(resource["Type"], []).append((logical_id, resource.get("Properties", {})))

    for logical_id, props in by_type.pop("AWS::SecretsManager::Secret", []):
        value = _secret_value(logical_id, props, local_secrets or {})
        name = f"{stack_name}/{logical_id}"
        arn = clients["secretsmanager"].create_secret(
            Name=name, SecretString=value, Description=resolver.resolve(props.get("Description", ""))
        )["ARN"]
        resources.physical[logical_id] = {"Ref": arn, "Id": arn}
        resources.secret_values[logical_id] = value

    for logical_id, props in by_type.pop("AWS::DynamoDB::Table", []):
        props = resolver.resolve(props)
        table_name = resources.ref(logical_id)
        args: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(indexes):
                args[indexes] = props[indexes]
        sse = props.get("SSESpecification") or {}
        if sse.get("SSEEnabled"):  # CloudFormation's SSEEnabled is the API's Enabled
            args["SSESpecification"] = {"Enabled": True, **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {})}
        stream = props.get("StreamSpecification") or {}
        if stream.get("StreamViewType"):  # CloudFormation's StreamSpecification is the API's, plus StreamEnabled
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        created = clients["dynamodb"].create_table(**args)["TableDescription"]
        if created.get("LatestStreamArn"):
            resources.physical[logical_id]["StreamArn"] = created["LatestStreamArn"]
        if props.get("TimeToLiveSpecification", {}).get("Enabled"):
            clients["dynamodb"].update_time_to_live(
                TableName=table_name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            clients["dynamodb"].update_continuous_backups(
                TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )

    for logical_id, props in by_type.pop("AWS::S3::Bucket", []):
        props = resolver.resolve(props)
        bucket = resources.ref(logical_id)
        clients["s3"].create_bucket(Bucket=bucket)
        if "VersioningConfiguration" in props:
            clients["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
        if "BucketEncryption" in props:
            clients["s3"].put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... key
                        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            clients["s3"].put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )

    for logical_id, _props in by_type.pop("AWS::SQS::Queue", []):
        url = clients["sqs"].create_queue(QueueName=resources.physical[logical_id]["QueueName"])["QueueUrl"]
        resources.physical[logical_id]["Ref"] = url

    for logical_id, _props in by_type.pop("AWS::Logs::LogGroup", []):
        clients["logs"].create_log_group(logGroupName=resources.ref(logical_id))

    role_documents = resources.role_documents
    for logical_id, props in by_type.pop("AWS::IAM::Role", []):
        props = resolver.resolve(props)
        role_name = resources.ref(logical_id)
        clients["iam"].create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )
        documents = []
        for policy in props.get("Policies", []):
            # IAM defaults a missing Version to 2008-10-17; SAM's policy templates omit it and moto wants it.
            policy["PolicyDocument"].setdefault("Version", "2012-10-17")
            clients["iam"].put_role_policy(
                RoleName=role_name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
            documents.append(policy["PolicyDocument"])
        role_documents[logical_id] = documents

    environment_keys: set[str] = set()
    for logical_id, props in by_type.pop("AWS::Lambda::Function", []):
        props = resolver.resolve(props)
        name = resources.ref(logical_id)
        variables = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        variables.update(local_environment or {})
        environment_keys |= set(variables)
        clients["lambda"].create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": variables},
            Architectures=props.get("Architectures", ["x86_64"]),
        )
        resources.function_names[logical_id] = name
        resources.function_environment[logical_id] = variables
        role_logical_id = next(k for k, v in resources.physical.items() if v.get("Arn") == props["Role"])
        resources.role_policies[name] = role_documents.get(role_logical_id, [])

    for logical_id, props in by_type.pop("AWS::StepFunctions::StateMachine", []):
        substitutions = {k: str(resolver.resolve(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        text = resolver.resolve(props["DefinitionString"])
        missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions)
        if missing:
            raise ValueError(f"state machine placeholders without DefinitionSubstitutions: {sorted(missing)}")
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        resources.definition = text
        clients["stepfunctions"].create_state_machine(
            name=resources.physical[logical_id]["Name"],
            definition=text,
            roleArn=resolver.resolve(props["RoleArn"]),
            type=props.get("StateMachineType", "STANDARD"),
        )

    for logical_id, props in by_type.get("AWS::Events::Rule", []):
        props = resolver.resolve(props)
        by_arn = {resolver.get_att(f, "Arn"): name for f, name in resources.function_names.items()}
        targets = tuple(by_arn[t["Arn"]] for t in props.get("Targets", []) if t["Arn"] in by_arn)
        resources.event_rules.append(EventRule(logical_id, props["EventPattern"], targets))

    for kind, items in by_type.items():
        for logical_id, _props in items:
            resources.not_emulated[logical_id] = f"{kind}: {NOT_EMULATED.get(kind, 'not built locally')}"
    resources.environment_keys = environment_keys
    return resources
