"""`labeltune labelbox connect|check` end to end: the CLI, moto's CloudFormation, Secrets Manager and DynamoDB
(through the real DynamoProjectStore), and autospecced Labelbox SDK classes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from labelbox.schema.export_task import ExportTask
from labelbox.schema.webhook import Webhook
from moto import mock_aws

from labeltune.adapters.dynamodb_projects import DynamoProjectStore
from labeltune.domain.project_config import ProjectConfig
from labeltune_tools.cli import main
from labeltune_tools.commands import labelbox as command
from labeltune_tools.labelbox_setup import is_hex_secret
from tests.adapters import labelbox_doubles as lb

PROJECT = "clproject0001"
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/labelbox"
PREFIX = "labeltune/labelbox-webhook/"


@pytest.fixture
def stack() -> Iterator[dict[str, str]]:
    """A deployed stack's outputs and its projects table, in moto."""
    with mock_aws():
        template = {
            "Resources": {
                "ProjectsTable": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {
                        "BillingMode": "PAY_PER_REQUEST",
                        "AttributeDefinitions": [{"AttributeName": "project_id", "AttributeType": "S"}],
                        "KeySchema": [{"AttributeName": "project_id", "KeyType": "HASH"}],
                    },
                }
            },
            "Outputs": {
                "WebhookUrl": {"Value": URL},
                "ProjectWebhookSecretPrefix": {"Value": PREFIX},
                "ProjectsTableName": {"Value": {"Ref": "ProjectsTable"}},
            },
        }
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="labeltune", TemplateBody=json.dumps(template))
        outputs = cloudformation.describe_stacks(StackName="labeltune")["Stacks"][0]["Outputs"]
        yield {o["OutputKey"]: o["OutputValue"] for o in outputs}


@pytest.fixture
def client() -> Iterator[Any]:
    double = lb.client()
    with patch.object(command, "_labelbox_client", return_value=double):
        yield double


@pytest.fixture
def webhook_create() -> Iterator[Any]:
    with patch.object(Webhook, "create", autospec=True) as create:
        create.return_value = lb.webhook("clwebhooknew", URL)
        yield create


@pytest.fixture
def get_task() -> Iterator[Any]:
    with patch.object(ExportTask, "get_task", autospec=True) as double:
        yield double


def stored_item(table: str) -> dict[str, Any] | None:
    return boto3.resource("dynamodb").Table(table).get_item(Key={"project_id": PROJECT}).get("Item")


def test_connect_with_a_stack(
    stack: dict[str, str], client: Any, webhook_create: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    project = lb.project(PROJECT)
    client.get_project.return_value = project

    assert main(["labelbox", "connect", "--project", PROJECT, "--stack", "labeltune"]) == 0

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=PREFIX + PROJECT)["SecretString"]
    assert is_hex_secret(secret)
    webhook_create.assert_called_once_with(
        client, topics=list(command_topics()), url=URL, secret=secret, project=project
    )
    item = stored_item(stack["ProjectsTableName"])
    assert item is not None and ProjectConfig.model_validate(item["config"]) == ProjectConfig()
    out, err = capsys.readouterr()
    assert "generated the project's own hex secret" in out and "clwebhooknew" in out and "default written" in out
    assert PREFIX + PROJECT in out and err == ""
    assert secret not in out + err

    # Again: the secret is kept, the configuration too, and the first webhook is replaced by a new one.
    client.get_project.return_value = lb.project(PROJECT, webhooks=[lb.webhook("clwebhooknew", URL)])
    webhook_create.return_value = lb.webhook("clwebhook2", URL)
    assert (
        main(["labelbox", "connect", "--project", PROJECT, "--stack", "labeltune", "--topics", "WORKFLOW_ACTION"]) == 0
    )
    out, err = capsys.readouterr()
    assert "kept (already registered" in out and "kept (exists)" in out and "Deactivated:    clwebhooknew" in out
    assert err == ""
    assert webhook_create.call_args.kwargs["secret"] == secret
    assert webhook_create.call_args.kwargs["topics"] == ["WORKFLOW_ACTION"]


def command_topics() -> tuple[str, ...]:
    return ("WORKFLOW_ACTION", "LABEL_CREATED", "LABEL_UPDATED", "LABEL_DELETED")


def test_connect_with_explicit_targets_and_rotation(
    stack: dict[str, str], client: Any, webhook_create: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client.get_project.return_value = lb.project(PROJECT)
    args = [
        "labelbox",
        "connect",
        "--project",
        PROJECT,
        "--url",
        URL,
        "--secret-prefix",
        PREFIX,
        "--projects-table",
        stack["ProjectsTableName"],
    ]
    secrets = boto3.client("secretsmanager")

    assert main(args) == 0
    first = secrets.get_secret_value(SecretId=PREFIX + PROJECT)["SecretString"]
    assert main([*args, "--rotate-secret"]) == 0
    second = secrets.get_secret_value(SecretId=PREFIX + PROJECT)["SecretString"]

    assert is_hex_secret(first) and is_hex_secret(second) and first != second
    out, err = capsys.readouterr()
    assert "ROTATED" in out and "old secret are refused" in err
    assert first not in out + err and second not in out + err


@pytest.mark.parametrize(
    "extra",
    [
        ["--stack", "labeltune", "--url", URL],  # both ways at once
        ["--url", URL],  # explicit, but incomplete
    ],
)
def test_connect_refuses_ambiguous_or_incomplete_targets(
    stack: dict[str, str], client: Any, webhook_create: Any, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["labelbox", "connect", "--project", PROJECT, *extra]) == 2
    assert "--stack" in capsys.readouterr().err
    webhook_create.assert_not_called()


def test_connect_to_a_stack_that_does_not_exist_is_an_error_not_a_traceback(
    stack: dict[str, str], client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["labelbox", "connect", "--project", PROJECT, "--stack", "nope"]) == 2
    assert "AWS error" in capsys.readouterr().err


def test_without_an_api_key_nothing_happens(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LABELBOX_API_KEY", raising=False)

    assert main(["labelbox", "connect", "--project", PROJECT, "--stack", "labeltune"]) == 2
    assert "LABELBOX_API_KEY" in capsys.readouterr().err
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []  # no secret was created


def test_the_client_comes_from_the_api_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELBOX_API_KEY", " lb-key ")
    with patch("labelbox.Client", autospec=True) as client_class:
        assert command._labelbox_client() is client_class.return_value
    client_class.assert_called_once_with(api_key="lb-key")


# --------------------------------------------------------------------------------------------------
# check


def text_project(client: Any, get_task: Any, rows: list[dict[str, Any]], ontology: Any = None) -> Any:
    project = lb.project(PROJECT, classifications=ontology if ontology is not None else lb.TEXT_ONTOLOGY)
    client.get_project.return_value = project
    project.export.return_value = lb.export_task("cltask1")
    get_task.return_value = lb.export_task("cltask1", rows=rows)
    return project


def test_check_prints_the_mapping_and_the_row_counts(
    client: Any, get_task: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text_project(client, get_task, [lb.export_row(f"dr{i}") for i in range(10)] + [lb.export_row("dr10", texts={})])
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping": {"response_classification": "fs-summary"}}))

    assert main(["labelbox", "check", "--project", PROJECT, "--config", str(config)]) == 0

    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert any(line.split() == ["summary", "fs-summary", "text", "response"] for line in lines)
    assert any(line.split() == ["quality", "fs-quality", "radio"] for line in lines)
    assert "Prompt from:    the data row's row_data" in out
    assert "Response from:  'summary' (mapping: fs-summary)" in out
    assert "11 exported, 10 accepted, 1 rejected" in out
    assert any(line.split() == ["missing_response", "1"] for line in lines)
    assert "Customer" not in out  # row content is never printed


def test_check_exits_1_and_warns_on_a_misconfigured_project(
    client: Any, get_task: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [lb.export_row("dr1", row_data="", texts={"prompt-text": "p", "response-text": "r"})]
    text_project(client, get_task, rows, ontology=lb.LEGACY_ONTOLOGY)

    assert main(["labelbox", "check", "--project", PROJECT]) == 1

    out, err = capsys.readouterr()
    assert "Response from:  NOT FOUND" in out
    assert "WARNING: the ontology has a prompt classification" in err
    assert "WARNING: several free-text classifications" in err


def test_check_reads_the_stored_configuration_of_a_connected_project(
    stack: dict[str, str], client: Any, get_task: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [lb.export_row(f"dr{i}", row_data="", texts={"prompt-text": "p", "response-text": "r"}) for i in range(10)]
    text_project(client, get_task, rows, ontology=lb.LEGACY_ONTOLOGY)
    legacy = ProjectConfig.model_validate({"mapping": {"prompt_from": "prompt-text"}}).model_dump(mode="json")
    store = DynamoProjectStore(stack["ProjectsTableName"])
    before = store.put_config(PROJECT, legacy)

    assert main(["labelbox", "check", "--project", PROJECT, "--stack", "labeltune"]) == 0

    out = capsys.readouterr().out
    assert "Prompt from:    classification 'prompt-text'" in out
    assert "10 exported, 10 accepted, 0 rejected" in out
    assert store.get_project(PROJECT) == before  # untouched


def test_check_with_a_bad_config_file_stops_before_labelbox(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping": {"prompt_form": "row_data"}}))  # misspelled key

    assert main(["labelbox", "check", "--project", PROJECT, "--config", str(config)]) == 2
    assert "prompt_form" in capsys.readouterr().err
    client.get_project.assert_not_called()


def test_check_gives_up_on_an_export_that_does_not_finish(
    client: Any, get_task: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text_project(client, get_task, [])
    get_task.return_value = lb.export_task("cltask1", status="IN_PROGRESS")

    with patch("time.sleep"):
        assert main(["labelbox", "check", "--project", PROJECT, "--timeout", "0"]) == 1
    assert "cltask1 still IN_PROGRESS" in capsys.readouterr().err
