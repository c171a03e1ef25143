"""The SAM template translates offline and wires what the handlers and the pipeline rely on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from labeltune_tools.packaging import function_layers, layer_requirements_file, layer_resources

from .conftest import EXPECTED_HANDLERS, ROOT

GLOBAL_ENV = {
    "TABLE_NAME",
    "BUCKET_NAME",
    "OPENAI_BASE_URL",
    "LABEL_SOURCE",
    "LABELBOX_API_KEY_SECRET_ARN",
    "OPENAI_API_KEY_SECRET_ARN",
    "WEBHOOK_SECRET_ARN",
    "WEBHOOK_SECRET_PREFIX",
    "SHARED_WEBHOOK_SECRET",
    "STACK_NAME",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
FUNCTION_ENV = {
    "ApiFunction": {
        "STATE_MACHINE_ARN",
        "FALLBACK_CHECK_SECONDS",
        "DEFAULT_PROVIDER",
        "PROJECTS_TABLE_NAME",
        "DELIVERIES_TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
    },
    "StartFineTuneFunction": {"BEDROCK_JOB_ROLE_ARN"},
    "OpenAIJobEventsFunction": {"OPENAI_WEBHOOK_SECRET_ARN"},
    "RecordOutcomeFunction": {
        "STATE_MACHINE_ARN",
        "FALLBACK_CHECK_SECONDS",
        "PROJECTS_TABLE_NAME",
        "PROVIDER_TIMEOUT_SECONDS",
    },
}

# Which secret each function may read (least privilege).
SECRET_ACCESS = {
    # OpenAI's key for the live model catalog (GET /v1/models) where the catalog refuses a model.
    "ApiFunction": {"LabelboxWebhookSecret", "OpenAIApiKeySecret"},
    "ExportLabelsFunction": {"LabelboxApiKeySecret", "OpenAIApiKeySecret"},
    "PrepareDatasetFunction": set(),
    "StartFineTuneFunction": {"OpenAIApiKeySecret"},
    "CheckFineTuneFunction": {"OpenAIApiKeySecret"},
    "ServeModelFunction": set(),  # OpenAI serves a tuned model by name; Bedrock calls are signed with the role
    "EvaluateFunction": {"OpenAIApiKeySecret"},
    "RecordOutcomeFunction": {"OpenAIApiKeySecret"},  # to cancel a failed run's still-training job
    "OpenAIJobEventsFunction": {"OpenAIApiKeySecret", "OpenAIWebhookSecret"},  # verify, then read the job back
    "BedrockJobEventsFunction": set(),
    "PublishPredictionsFunction": {"LabelboxApiKeySecret"},
    "RunEventsFunction": set(),
}

ROUTES = {
    ("/webhooks/labelbox", "post"): "NONE",
    ("/projects/{project_id}", "put"): "AWS_IAM",
    ("/projects/{project_id}", "get"): "AWS_IAM",
    ("/projects/{project_id}/runs", "post"): "AWS_IAM",
    ("/projects/{project_id}/runs", "get"): "AWS_IAM",
    ("/projects/{project_id}/deliveries", "get"): "AWS_IAM",
    ("/projects/{project_id}/model", "get"): "AWS_IAM",
    ("/projects/{project_id}/model", "post"): "AWS_IAM",
    ("/runs/{run_id}", "get"): "AWS_IAM",
    ("/runs/{run_id}/report", "get"): "AWS_IAM",
    ("/runs/{run_id}/cancel", "post"): "AWS_IAM",
    ("/runs/{run_id}/timeline", "get"): "AWS_IAM",
    ("/webhooks/openai", "post"): "NONE",
}
ROUTE_FUNCTIONS = {("/webhooks/openai", "post"): "OpenAIJobEventsFunction"}  # the others: ApiFunction


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _refs(value: Any) -> set[str]:
    """Every logical id a value points at through Ref / GetAtt / ${X} in Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text, local = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                names = {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found.update(names - set(local) - {n for n in names if n.startswith("AWS::")})
                found.update(_refs(local))
            else:
                found.update(_refs(inner))
    elif isinstance(value, list):
        for inner in value:
            found.update(_refs(inner))
    return found


def test_translates_to_plain_cloudformation(translated: dict[str, Any]) -> None:
    leftovers = [k for k, v in translated["Resources"].items() if v["Type"].startswith("AWS::Serverless::")]
    assert leftovers == []
    assert "Transform" not in translated


def test_functions_and_handlers(translated: dict[str, Any]) -> None:
    functions = _of_type(translated, "AWS::Lambda::Function")
    assert {k: v["Properties"]["Handler"] for k, v in functions.items()} == EXPECTED_HANDLERS
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13", name
        assert props["Architectures"] == ["arm64"], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name


def test_handler_strings_name_modules_in_the_code_uri(template: dict[str, Any]) -> None:
    # CodeUri functions/ puts the labeltune package at the zip root, so "a.b.c.handler" is a.b.c.py there.
    assert template["Globals"]["Function"]["CodeUri"] == "functions/"
    for handler in EXPECTED_HANDLERS.values():
        module, _, attribute = handler.rpartition(".")
        assert attribute == "handler"
        assert re.fullmatch(r"labeltune\.handlers\.[a-z_]+", module), handler


def test_sizes_and_timeouts(translated: dict[str, Any]) -> None:
    expected = {
        "ApiFunction": (60, 512),
        "ExportLabelsFunction": (900, 1024),
        "PrepareDatasetFunction": (900, 1024),
        "StartFineTuneFunction": (300, 512),
        "CheckFineTuneFunction": (120, 512),
        "ServeModelFunction": (60, 512),
        "EvaluateFunction": (900, 1024),
        "RecordOutcomeFunction": (600, 512),  # cancelling jobs and deleting files, retried within a budget
        "OpenAIJobEventsFunction": (60, 512),
        "BedrockJobEventsFunction": (60, 512),
        "PublishPredictionsFunction": (900, 512),
        "RunEventsFunction": (60, 512),
    }
    functions = _of_type(translated, "AWS::Lambda::Function")
    actual = {k: (v["Properties"]["Timeout"], v["Properties"]["MemorySize"]) for k, v in functions.items()}
    assert actual == expected


def test_environment_is_global_plus_minimal_extras(translated: dict[str, Any]) -> None:
    for name, function in _of_type(translated, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert set(variables) == GLOBAL_ENV | FUNCTION_ENV.get(name, set()), name
        assert variables["TABLE_NAME"] == {"Ref": "RunsTable"}
        assert variables["BUCKET_NAME"] == {"Ref": "ArtifactsBucket"}
        assert variables["WEBHOOK_SECRET_ARN"] == {"Ref": "LabelboxWebhookSecret"}
        assert variables["LABELBOX_API_KEY_SECRET_ARN"] == {"Ref": "LabelboxApiKeySecret"}
        assert variables["OPENAI_API_KEY_SECRET_ARN"] == {"Ref": "OpenAIApiKeySecret"}
    api_env = translated["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["STATE_MACHINE_ARN"] == {"Ref": "PipelineStateMachine"}
    assert api_env["FALLBACK_CHECK_SECONDS"] == {"Ref": "FallbackCheckSeconds"}


def test_function_roles_are_least_privilege(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    for name, allowed_secrets in SECRET_ACCESS.items():
        role = resources[f"{name}Role"]
        statements = _statements(role)
        for statement in statements:
            assert statement["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in _actions(statement)), (name, statement)
        secret_statements = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
        read = set().union(*(_refs(s["Resource"]) for s in secret_statements))
        assert read == allowed_secrets, name
        assert all(_actions(s) == ["secretsmanager:GetSecretValue"] for s in secret_statements), name
    api_statements = _statements(resources["ApiFunctionRole"])
    api_actions = {a for s in api_statements for a in _actions(s)}
    assert {"states:StartExecution", "states:DescribeExecution"} <= api_actions
    # Each project's own webhook secret, and only those: the prefix the code reads them under.
    project_secrets = [s for s in api_statements if s.get("Sid") == "ProjectWebhookSecrets"]
    assert [s["Resource"]["Fn::Sub"] for s in project_secrets] == [
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/labelbox-webhook/*"
    ]
    prefix = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]["WEBHOOK_SECRET_PREFIX"]
    assert prefix == {"Fn::Sub": "${AWS::StackName}/labelbox-webhook/"}
    # The API presigns links to run reports only, never to the chats and outputs beside them.
    api_s3 = [(_actions(s), s["Resource"]) for s in api_statements if any(a.startswith("s3:") for a in _actions(s))]
    assert api_s3 == [(["s3:GetObject"], {"Fn::Sub": "${ArtifactsBucket.Arn}/runs/*/report.html"})]
    # A rollback to a Bedrock model serves it again and deletes the superseded deployment: deployments only.
    assert {a for a in api_actions if a.startswith("bedrock:")} == {
        "bedrock:ListFoundationModels",
        "bedrock:CreateCustomModelDeployment",
        "bedrock:GetCustomModelDeployment",
        "bedrock:DeleteCustomModelDeployment",
        "bedrock:ListCustomModelDeployments",
    }
    record_actions = {a for s in _statements(resources["RecordOutcomeFunctionRole"]) for a in _actions(s)}
    # Closing a run may start its one follow-up run (StartExecution; DescribeExecution to recover a dead claim),
    # cancel a failed run's job (the OpenAI key; Bedrock's job API) and delete the deployment that served its
    # tuned model; an event it cannot handle goes to the dead-letter queue (SendMessage, SAM's on-failure
    # destination); a succeeded run's report is rendered from its evaluation files and stored (GetObject, PutObject).
    assert {a for a in record_actions if not a.startswith("dynamodb:")} == {
        "s3:GetObject",
        "s3:PutObject",
        "states:StartExecution",
        "states:DescribeExecution",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "bedrock:GetModelCustomizationJob",
        "bedrock:StopModelCustomizationJob",
        "bedrock:ListModelCustomizationJobs",
        "bedrock:DeleteCustomModelDeployment",
        "bedrock:ListCustomModelDeployments",
    }
    check_actions = {a for s in _statements(resources["CheckFineTuneFunctionRole"]) for a in _actions(s)}
    assert not any(a.startswith("s3:") for a in check_actions)
    start_actions = {a for s in _statements(resources["StartFineTuneFunctionRole"]) for a in _actions(s)}
    assert not {"s3:PutObject", "s3:DeleteObject"} & start_actions


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]) -> None:
    groups = _of_type(template, "AWS::Logs::LogGroup")
    named = {
        v["Properties"]["LogGroupName"]["Fn::Sub"]
        for v in groups.values()
        if isinstance(v["Properties"].get("LogGroupName"), dict)
    }
    for name in EXPECTED_HANDLERS:
        assert f"/aws/lambda/${{{name}}}" in named, name
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] > 0, name


def test_http_api_routes_auth_and_logging(translated: dict[str, Any]) -> None:
    api = translated["Resources"]["HttpApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    paths = api["Properties"]["Body"]["paths"]
    routes = {(path, method): spec for path, methods in paths.items() for method, spec in methods.items()}
    assert set(routes) == set(ROUTES)
    for key, authorizer in ROUTES.items():
        spec = routes[key]
        assert spec["security"] == [{authorizer: []}], key
        integration = spec["x-amazon-apigateway-integration"]
        assert integration["payloadFormatVersion"] == "1.0", key
        assert f"{ROUTE_FUNCTIONS.get(key, 'ApiFunction')}.Arn" in integration["uri"]["Fn::Sub"], key

    stage = translated["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    throttling = stage["DefaultRouteSettings"]
    assert throttling["ThrottlingBurstLimit"] > 0
    assert throttling["ThrottlingRateLimit"] > 0
    access_log = stage["AccessLogSettings"]
    assert _refs(access_log["DestinationArn"]) == {"HttpApiAccessLogGroup"}
    fields = set(re.findall(r"\$context\.([a-zA-Z.]+)", access_log["Format"]))
    assert {"requestId", "routeKey", "status"} <= fields
    # No personal data in access logs: caller address, agent or identity.
    assert not {f for f in fields if f.startswith(("identity.", "authorizer."))}


def test_state_machine_logging_and_tracing(translated: dict[str, Any]) -> None:
    machine = translated["Resources"]["PipelineStateMachine"]["Properties"]
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    [destination] = logging["Destinations"]
    assert _refs(destination) == {"PipelineStateMachineLogGroup"}
    assert machine["TracingConfiguration"] == {"Enabled": True}
    role = translated["Resources"]["PipelineStateMachineRole"]
    actions = {a for s in _statements(role) for a in _actions(s)}
    assert {"logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"} <= actions


def test_runs_table(template: dict[str, Any]) -> None:
    table = template["Resources"]["RunsTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "run_id", "KeyType": "HASH"}]
    [index] = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_project"
    assert index["KeySchema"] == [
        {"AttributeName": "project_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"run_id": "S", "project_id": "S", "created_at": "S"}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_artifacts_bucket(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["ArtifactsBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [statement] = template["Resources"]["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_secrets_are_generated_never_literal(template: dict[str, Any]) -> None:
    secrets = _of_type(template, "AWS::SecretsManager::Secret")
    assert set(secrets) == {
        "LabelboxApiKeySecret",
        "OpenAIApiKeySecret",
        "OpenAIWebhookSecret",
        "LabelboxWebhookSecret",
    }
    for name, secret in secrets.items():
        props = secret["Properties"]
        assert "SecretString" not in props, name
        assert "GenerateSecretString" in props, name
    for name in ("LabelboxApiKeySecret", "OpenAIApiKeySecret", "OpenAIWebhookSecret"):
        assert "put-secret-value" in secrets[name]["Properties"]["Description"], name
    webhook = secrets["LabelboxWebhookSecret"]["Properties"]["GenerateSecretString"]
    # The Labelbox SDK interpolates the secret into GraphQL text: no quotes or backslashes.
    assert webhook == {"PasswordLength": 40, "ExcludePunctuation": True}


def test_parameters(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    # What a run trains on is per project, with one set of defaults (ProjectConfig): none in the template.
    assert not {"BaseModel", "SystemPrompt", "MinExamples"} & set(params)
    fallback = params["FallbackCheckSeconds"]
    assert (fallback["Type"], fallback["Default"], fallback["MinValue"]) == ("Number", 1800, 150)  # test_asl: history
    assert params["OpenAIBaseUrl"]["Default"] == ""
    shared = params["SharedWebhookSecret"]
    assert (shared["Default"], shared["AllowedValues"]) == ("disabled", ["disabled", "enabled"])
    assert params["LabelSource"]["AllowedValues"] == ["labelbox", "s3"]
    assert params["LabelSource"]["Default"] == "labelbox"
    assert params["LogLevel"]["Default"] == "INFO"


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == {
        "ApiUrl",
        "WebhookUrl",
        "PipelineStateMachineArn",
        "RunsTableName",
        "ProjectsTableName",
        "ArtifactsBucketName",
        "LabelboxApiKeySecretArn",
        "OpenAIApiKeySecretArn",
        "OpenAIWebhookUrl",
        "OpenAIWebhookSecretArn",
        "LabelboxWebhookSecretArn",
        "ProjectWebhookSecretPrefix",
        "DeliveriesTableName",
        "DashboardName",
        "DashboardUrl",
        "AlarmTopicArn",
    }
    api_url = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
    assert outputs["ApiUrl"]["Value"] == {"Fn::Sub": api_url}
    assert outputs["WebhookUrl"]["Value"]["Fn::Sub"].endswith("/webhooks/labelbox")


def _requirement_name(line: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0]).lower()


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def test_layers_pin_what_pyproject_pins_and_nothing_else(template: dict[str, Any]) -> None:
    """[project].dependencies is the union the functions need (what the dev venv installs); each layer's
    requirements.txt carries a share of it with the very same specifiers, no package in two layers, and
    boto3 in none (the runtime has it)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = {_requirement_name(d): d for d in pyproject["project"]["dependencies"]}
    by_layer = {layer: _requirement_lines(layer_requirements_file(ROOT, layer)) for layer in layer_resources(template)}
    owners: dict[str, list[str]] = {}
    for layer, lines in by_layer.items():
        assert lines, f"{layer}: empty requirements"
        for line in lines:
            name = _requirement_name(line)
            owners.setdefault(name, []).append(layer)
            assert runtime.get(name) == line, f"{layer}: {line!r} is not pyproject's {runtime.get(name)!r}"
    assert {name: layers for name, layers in owners.items() if len(layers) > 1} == {}
    assert set(owners) == set(runtime) - {"boto3"}
    # Every requirements file under layers/ is a layer of the template (none built by nobody).
    files = {path.parent.name for path in (ROOT / "layers").glob("*/requirements.txt")}
    assert files == {layer_requirements_file(ROOT, layer).parent.name for layer in by_layer}
    assert not (ROOT / "functions" / "requirements.txt").exists()  # sam build would bundle it into every function


def test_functions_build_their_code_alone_and_take_dependencies_from_layers(template: dict[str, Any]) -> None:
    globals_ = template["Globals"]["Function"]
    assert globals_["CodeUri"] == "functions/"
    assert globals_["Layers"] == [{"Ref": "CoreLayer"}]  # every function has the core layer
    layers = layer_resources(template)
    for name in EXPECTED_HANDLERS:
        resource = template["Resources"][name]
        assert resource["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}, name
        assert "CodeUri" not in resource["Properties"], name  # the Globals' functions/, built by functions/Makefile
        assert set(function_layers(template)[name]) <= set(layers), name
    for name, layer in layers.items():
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}, name
        props = layer["Properties"]
        # Built from all of layers/: a layer's share depends on every layer's requirements (one resolution).
        assert props["ContentUri"] == "layers/", name
        assert props["CompatibleRuntimes"] == [globals_["Runtime"]], name
        assert props["CompatibleArchitectures"] == globals_["Architectures"], name
    used = {layer for names in function_layers(template).values() for layer in names}
    assert used == set(layers)  # no layer nobody uses


def test_the_translated_functions_carry_their_layers(translated: dict[str, Any], template: dict[str, Any]) -> None:
    # SAM renames layer versions (a content hash suffix); the function's Layers follow.
    resources = translated["Resources"]
    for name, expected in function_layers(template).items():
        refs = [ref["Ref"] for ref in resources[name]["Properties"]["Layers"]]
        assert [re.sub(r"[0-9a-f]{10}$", "", ref) for ref in refs] == expected, name
        assert all(resources[ref]["Type"] == "AWS::Lambda::LayerVersion" for ref in refs), name


def test_samconfig_deploy_defaults() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert config["default"]["global"]["parameters"]["stack_name"] == "labeltune"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["region"] == "us-east-1"


def test_the_webhook_is_throttled_apart_from_the_management_routes(translated: dict[str, Any]) -> None:
    stage = translated["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    default = stage["DefaultRouteSettings"]
    webhook = stage["RouteSettings"]["POST /webhooks/labelbox"]
    assert webhook["ThrottlingRateLimit"] > default["ThrottlingRateLimit"]
    assert webhook["ThrottlingBurstLimit"] > default["ThrottlingBurstLimit"]
    routes = {
        f"{method.upper()} {path}"
        for path, methods in translated["Resources"]["HttpApi"]["Properties"]["Body"]["paths"].items()
        for method in methods
    }
    assert set(stage["RouteSettings"]) <= routes  # a setting for a route that does not exist would be ignored


def test_the_api_function_has_reserved_concurrency_unless_turned_off(template: dict[str, Any]) -> None:
    reserved = template["Resources"]["ApiFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["ReserveApiConcurrency", {"Ref": "ApiReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["ApiReservedConcurrency"]["Default"] == 20
    assert template["Conditions"]["ReserveApiConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]
    }


def test_every_request_to_the_bucket_of_chats_is_logged(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    logging = resources["ArtifactsBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    logs = resources["AccessLogsBucket"]["Properties"]
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"  # S3 server access logging can only write to SSE-S3 buckets
    }
    assert logs["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    (grant,) = [
        s
        for s in resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"} and grant["Action"] == "s3:PutObject"
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]}


def test_closing_a_run_fits_its_cleanup_in_the_functions_timeout(translated: dict[str, Any]) -> None:
    """RecordOutcome kept the global 60 s while cancelling a job alone can take 3 x 30 s: the run was never closed
    and the project stayed claimed. Worst case now: the budget, plus one more attempt of its provider calls."""
    from labeltune.pipeline.outcome import CLEANUP_BUDGET_SECONDS

    props = translated["Resources"]["RecordOutcomeFunction"]["Properties"]
    request = float(props["Environment"]["Variables"]["PROVIDER_TIMEOUT_SECONDS"])
    calls_per_attempt = 6  # list jobs, get the recorded one, cancel, list files, delete two
    one_attempt = calls_per_attempt * 3 * (request + 1)  # the SDK's three tries, with its backoff
    assert CLEANUP_BUDGET_SECONDS + one_attempt + 30 < props["Timeout"]
