"""connect and check (labeltune_tools.labelbox_setup) against autospecced Labelbox SDK classes and moto's AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from unittest.mock import ANY, call, patch

import boto3
import pytest
from labelbox.schema.export_task import ExportTask
from labelbox.schema.webhook import Webhook
from lbox import exceptions as lbox_errors
from moto import mock_aws

from labeltune.adapters.labelbox_export import LabelboxExportService
from labeltune.domain.conversion import FieldMapping
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import ConfigurationError, RowDataFetchError
from labeltune_tools.labelbox_setup import (
    WEBHOOK_TOPICS,
    connect_project,
    count_rows,
    is_hex_secret,
    map_ontology,
    ontology_classifications,
    stack_targets,
    stored_config,
)
from tests.adapters import labelbox_doubles as lb

PROJECT = "clproject0001"
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/labelbox"
FRESH_SECRET = "Xk9PqR2sT4uV6wY8zA1bC3dE5fG7hJ0kLmNoPqRs"  # what GenerateSecretString deploys: mixed-case
HEX_SECRET = "0123456789abcdef0123456789abcdef01234567"
NEW_SECRET = "fedcba9876543210fedcba9876543210fedcba98"


class FakeProjectStore:
    """The configuration part of the ProjectStore port, recording writes."""

    def __init__(self, items: Mapping[str, dict[str, Any]] | None = None) -> None:
        self.items = dict(items or {})
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        return self.items.get(project_id)

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
        self.writes.append((project_id, dict(config)))
        item = {**self.items.get(project_id, {"project_id": project_id, "pending_labels": 0}), "config": dict(config)}
        self.items[project_id] = item
        return item


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def secretsmanager(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


PREFIX = "labeltune/labelbox-webhook/"
NAME = f"{PREFIX}{PROJECT}"


def make_secret(secretsmanager: Any, value: str) -> str:
    """The project's secret as an earlier connect left it."""
    return secretsmanager.create_secret(Name=NAME, SecretString=value)["ARN"]


def secret_value(secretsmanager: Any, name: str = NAME) -> str:
    return secretsmanager.get_secret_value(SecretId=name)["SecretString"]


def secret_exists(secretsmanager: Any, name: str = NAME) -> bool:
    return bool(secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"])


def secret_versions(secretsmanager: Any, name: str = NAME) -> int:
    return len(secretsmanager.list_secret_version_ids(SecretId=name)["Versions"])


@pytest.fixture
def webhook_create() -> Iterator[Any]:
    with patch.object(Webhook, "create", autospec=True) as create:
        create.return_value = lb.webhook("clwebhooknew", URL)
        yield create


@pytest.fixture
def client() -> Any:
    return lb.client()


def connect(client: Any, secretsmanager: Any, store: FakeProjectStore, **kwargs: Any) -> Any:
    return connect_project(
        client,
        secretsmanager,
        store,
        PROJECT,
        webhook_url=URL,
        secret_prefix=PREFIX,
        generate_secret=lambda: NEW_SECRET,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------------
# connect


def test_first_connect_creates_the_projects_own_secret_registers_the_webhook_and_writes_the_default_config(
    client: Any, secretsmanager: Any, webhook_create: Any
) -> None:
    project = lb.project(PROJECT)
    client.get_project.return_value = project
    store = FakeProjectStore()

    report = connect(client, secretsmanager, store)

    assert secret_value(secretsmanager) == NEW_SECRET
    assert report.secret_name == NAME
    webhook_create.assert_called_once_with(
        client,
        topics=["WORKFLOW_ACTION", "LABEL_CREATED", "LABEL_UPDATED", "LABEL_DELETED"],
        url=URL,
        secret=NEW_SECRET,
        project=project,
    )
    assert store.writes == [(PROJECT, ProjectConfig().model_dump(mode="json"))]
    assert ProjectConfig.model_validate(store.items[PROJECT]["config"]) == ProjectConfig()
    assert report.secret_action == "generated"
    assert report.webhook.webhook_id == "clwebhooknew"
    assert report.config_written
    assert report.project_name == "Support summaries"
    assert report.warnings == ()
    assert NEW_SECRET not in repr(report)


def test_each_project_gets_a_secret_of_its_own(client: Any, secretsmanager: Any, webhook_create: Any) -> None:
    for project_id in (PROJECT, "clproject0002"):
        client.get_project.return_value = lb.project(project_id)
        connect_project(client, secretsmanager, FakeProjectStore(), project_id, webhook_url=URL, secret_prefix=PREFIX)
    first, second = secret_value(secretsmanager), secret_value(secretsmanager, f"{PREFIX}clproject0002")
    assert is_hex_secret(first) and is_hex_secret(second) and first != second


def test_a_hex_secret_is_kept_and_an_existing_config_is_not_touched(
    client: Any, secretsmanager: Any, webhook_create: Any
) -> None:
    client.get_project.return_value = lb.project(PROJECT)
    make_secret(secretsmanager, HEX_SECRET)
    tuned = {**ProjectConfig().model_dump(mode="json"), "min_examples": 50}
    store = FakeProjectStore({PROJECT: {"project_id": PROJECT, "config": tuned}})

    report = connect(client, secretsmanager, store, topics=("WORKFLOW_ACTION",))

    assert secret_value(secretsmanager) == HEX_SECRET
    assert secret_versions(secretsmanager) == 1
    assert webhook_create.call_args.kwargs["secret"] == HEX_SECRET
    assert webhook_create.call_args.kwargs["topics"] == ["WORKFLOW_ACTION"]
    assert store.writes == []
    assert report.secret_action == "kept"
    assert not report.config_written
    assert report.warnings == ()


def test_rotate_secret_replaces_the_projects_secret_and_says_the_old_one_is_refused(
    client: Any, secretsmanager: Any, webhook_create: Any
) -> None:
    client.get_project.return_value = lb.project(PROJECT)
    make_secret(secretsmanager, HEX_SECRET)

    report = connect(client, secretsmanager, FakeProjectStore(), rotate_secret=True)

    assert secret_value(secretsmanager) == NEW_SECRET
    assert webhook_create.call_args.kwargs["secret"] == NEW_SECRET
    assert report.secret_action == "rotated"
    assert any("old secret are refused" in warning for warning in report.warnings)


def test_a_secret_that_is_not_hex_is_replaced(client: Any, secretsmanager: Any, webhook_create: Any) -> None:
    """A value with punctuation would break the SDK's GraphQL text: never registered as it is."""
    client.get_project.return_value = lb.project(PROJECT)
    make_secret(secretsmanager, FRESH_SECRET)
    connect(client, secretsmanager, FakeProjectStore())
    assert secret_value(secretsmanager) == NEW_SECRET


def test_a_project_item_without_config_gets_one(client: Any, secretsmanager: Any, webhook_create: Any) -> None:
    client.get_project.return_value = lb.project(PROJECT)
    store = FakeProjectStore({PROJECT: {"project_id": PROJECT, "pending_labels": 3}})

    report = connect(client, secretsmanager, store)

    assert report.config_written
    assert store.items[PROJECT]["pending_labels"] == 3


def test_connecting_again_replaces_the_projects_earlier_webhook_for_the_same_url(
    client: Any, secretsmanager: Any, webhook_create: Any
) -> None:
    earlier = lb.webhook("clwebhookold", URL)
    inactive = lb.webhook("clwebhookdead", URL, status="INACTIVE")
    elsewhere = lb.webhook("clwebhookother", "https://example.com/hook")
    client.get_project.return_value = lb.project(PROJECT, webhooks=[earlier, inactive, elsewhere])

    report = connect(client, secretsmanager, FakeProjectStore())

    earlier.delete.assert_called_once_with()
    inactive.delete.assert_not_called()
    elsewhere.delete.assert_not_called()
    assert report.webhook.deactivated == ("clwebhookold",)
    assert report.webhook.webhook_id == "clwebhooknew"


def test_the_new_webhook_exists_before_the_old_one_is_deactivated(
    client: Any, secretsmanager: Any, webhook_create: Any
) -> None:
    earlier = lb.webhook("clwebhookold", URL)
    client.get_project.return_value = lb.project(PROJECT, webhooks=[earlier])
    order: list[str] = []

    def create(*args: Any, **kwargs: Any) -> Any:
        order.append("create")
        return lb.webhook("clwebhooknew", URL)

    webhook_create.side_effect = create
    earlier.delete.side_effect = lambda: order.append("deactivate")

    connect(client, secretsmanager, FakeProjectStore())

    assert order == ["create", "deactivate"]


def test_an_unknown_project_changes_nothing(client: Any, secretsmanager: Any, webhook_create: Any) -> None:
    client.get_project.side_effect = lbox_errors.ResourceNotFoundError(message="no project")
    store = FakeProjectStore()

    with pytest.raises(lbox_errors.ResourceNotFoundError):
        connect(client, secretsmanager, store)

    assert not secret_exists(secretsmanager)
    assert store.writes == []
    webhook_create.assert_not_called()


@pytest.mark.parametrize(
    ("url", "topics"),
    [
        ("http://abc.execute-api.us-east-1.amazonaws.com/webhooks/labelbox", WEBHOOK_TOPICS),
        ('https://example.com/x", secret:"y', WEBHOOK_TOPICS),  # would inject into the SDK's GraphQL text
        (URL, ("REVIEW_CREATED",)),  # removed in SDK 3.64
        (URL, ()),
    ],
)
def test_bad_url_or_topics_are_refused_before_anything_happens(
    client: Any, secretsmanager: Any, webhook_create: Any, url: str, topics: tuple[str, ...]
) -> None:
    store = FakeProjectStore()

    with pytest.raises(ConfigurationError):
        connect_project(client, secretsmanager, store, PROJECT, webhook_url=url, secret_prefix=PREFIX, topics=topics)

    client.get_project.assert_not_called()
    assert not secret_exists(secretsmanager)
    assert store.writes == []
    webhook_create.assert_not_called()


def test_the_real_generator_makes_hex_secrets(client: Any, secretsmanager: Any, webhook_create: Any) -> None:
    client.get_project.return_value = lb.project(PROJECT)

    connect_project(client, secretsmanager, FakeProjectStore(), PROJECT, webhook_url=URL, secret_prefix=PREFIX)

    stored = secret_value(secretsmanager)
    assert is_hex_secret(stored) and len(stored) == 40
    assert not is_hex_secret(FRESH_SECRET)


def test_stack_outputs_are_read_from_cloudformation(aws: None) -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
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
    cloudformation.create_stack(StackName="labeltune", TemplateBody=json.dumps(template))
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps({**template, "Outputs": {}}))

    targets = stack_targets(cloudformation, "labeltune")

    assert targets.webhook_url == URL
    assert targets.secret_prefix == PREFIX
    assert targets.projects_table.startswith("labeltune-ProjectsTable")
    with pytest.raises(ConfigurationError, match="WebhookUrl, ProjectWebhookSecretPrefix, ProjectsTableName"):
        stack_targets(cloudformation, "other")


def test_stored_config_reads_the_projects_configuration() -> None:
    tuned = {**ProjectConfig().model_dump(mode="json"), "min_examples": 50}
    store = FakeProjectStore({PROJECT: {"project_id": PROJECT, "config": tuned}})

    assert stored_config(store, PROJECT).min_examples == 50
    with pytest.raises(ConfigurationError, match="connect"):
        stored_config(store, "clunknown")


# --------------------------------------------------------------------------------------------------
# check: mapping against the ontology


def test_text_project_default_mapping_finds_the_single_free_text_response() -> None:
    report = map_ontology(ontology_classifications({"classifications": lb.TEXT_ONTOLOGY}), FieldMapping())

    assert [(c.name, c.feature_schema_id, c.type) for c in report.classifications] == [
        ("summary", "fs-summary", "text"),
        ("quality", "fs-quality", "radio"),
    ]
    assert report.prompt is None  # the data row
    assert report.response is not None and report.response.name == "summary"
    assert report.warnings == ()


def test_legacy_ontology_with_the_default_mapping_is_flagged_twice() -> None:
    report = map_ontology(ontology_classifications({"classifications": lb.LEGACY_ONTOLOGY}), FieldMapping())

    assert report.response is None
    assert any("legacy prompt/response" in w and "'prompt-text'" in w for w in report.warnings)
    assert any("several free-text classifications" in w for w in report.warnings)


@pytest.mark.parametrize(
    "mapping",
    [
        FieldMapping(prompt_from="prompt-text"),
        FieldMapping(prompt_from="fs-prompt", response_classification="fs-response"),  # by feature schema id
        FieldMapping(prompt_from="prompt-text", response_classification="response-text"),
    ],
)
def test_legacy_ontology_mapped_to_its_prompt_classification_is_clean(mapping: FieldMapping) -> None:
    report = map_ontology(ontology_classifications({"classifications": lb.LEGACY_ONTOLOGY}), mapping)

    assert report.prompt is not None and report.prompt.name == "prompt-text"
    assert report.response is not None and report.response.name == "response-text"
    assert report.warnings == ()


@pytest.mark.parametrize(
    ("ontology", "mapping", "expected"),
    [
        (
            lb.TEXT_ONTOLOGY,
            FieldMapping(response_classification="summry"),
            "'summry' (mapping.response_classification) is not in the ontology",
        ),
        (lb.TEXT_ONTOLOGY, FieldMapping(response_classification="quality"), "'quality' is a radio classification"),
        (
            lb.TEXT_ONTOLOGY,
            FieldMapping(prompt_from="question"),
            "prompt classification 'question' (mapping.prompt_from) is not in the ontology",
        ),
        (lb.TEXT_ONTOLOGY, FieldMapping(prompt_from="summary"), "no free-text classification"),
        (lb.TEXT_ONTOLOGY[1:], FieldMapping(), "no free-text classification"),
        ([], FieldMapping(), "no free-text classification"),
        (
            lb.LEGACY_ONTOLOGY,
            FieldMapping(prompt_from="prompt-text", response_classification="prompt-text"),
            "both the prompt and the response",
        ),
    ],
)
def test_mapping_mistakes_are_reported(ontology: list[dict[str, Any]], mapping: FieldMapping, expected: str) -> None:
    report = map_ontology(ontology_classifications({"classifications": ontology}), mapping)

    assert any(expected in warning for warning in report.warnings), report.warnings


def test_unknown_classification_types_are_listed_not_fatal() -> None:
    classifications = ontology_classifications(
        {"classifications": [{"type": "some-future-type", "name": "x"}, {"name": ""}, "junk", *lb.TEXT_ONTOLOGY]}
    )
    assert [c.type for c in classifications] == ["some-future-type", "text", "radio"]


# --------------------------------------------------------------------------------------------------
# check: rows of a real export


class FakeFetcher:
    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.urls: list[str] = []

    def fetch(self, url: str) -> str:
        self.urls.append(url)
        if url not in self.texts:
            raise RowDataFetchError("row_data_fetch_failed", "404")
        return self.texts[url]


def test_count_rows_counts_accepted_and_rejections_per_reason() -> None:
    rows = [
        lb.export_row("dr1"),
        lb.export_row("dr2"),
        lb.export_row("dr3", status="IN_REVIEW"),
        lb.export_row("dr4", texts={}),
        lb.export_row("dr5", row_data="https://storage.example.com/chat5.txt"),
        {"_malformed": True},
    ]

    counts = count_rows(rows, PROJECT, ProjectConfig())

    assert (counts.rows, counts.accepted, counts.url_rows, counts.fetched) == (6, 2, 1, False)
    assert dict(counts.rejected) == {"not_done": 1, "missing_response": 1, "prompt_is_url": 1, "invalid_json": 1}


def test_count_rows_fetches_url_row_data_when_given_a_fetcher() -> None:
    rows = [
        lb.export_row("dr1", row_data="https://storage.example.com/chat1.txt"),
        lb.export_row("dr2", row_data="https://storage.example.com/gone.txt"),
    ]
    fetcher = FakeFetcher({"https://storage.example.com/chat1.txt": "Agent: hi\nCustomer: where is my parcel"})

    counts = count_rows(rows, PROJECT, ProjectConfig(), fetcher)

    assert (counts.accepted, dict(counts.rejected), counts.fetched) == (1, {"row_data_fetch_failed": 1}, True)
    assert len(fetcher.urls) == 2


@pytest.fixture
def get_task() -> Iterator[Any]:
    with patch.object(ExportTask, "get_task", autospec=True) as double:
        yield double


def test_check_project_reports_mapping_and_rows_and_writes_nothing(client: Any, get_task: Any) -> None:
    from labeltune_tools.labelbox_setup import check_project

    project = lb.project(PROJECT, classifications=lb.TEXT_ONTOLOGY)
    client.get_project.return_value = project
    project.export.return_value = lb.export_task("cltask1", status="IN_PROGRESS")
    rows = [lb.export_row(f"dr{i}") for i in range(12)] + [lb.export_row("drx", status="IN_REWORK")]
    get_task.side_effect = [
        lb.export_task("cltask1", status="IN_PROGRESS"),
        lb.export_task("cltask1", status="COMPLETE", rows=rows),
        lb.export_task("cltask1", status="COMPLETE", rows=rows),
    ]
    sleeps: list[float] = []

    report = check_project(
        client, PROJECT, ProjectConfig(), LabelboxExportService(client=client), sleep=sleeps.append, poll_seconds=2
    )

    assert report.export_task_id == "cltask1"
    assert report.mapping.response is not None and report.mapping.response.name == "summary"
    assert (report.counts.rows, report.counts.accepted, dict(report.counts.rejected)) == (13, 12, {"not_done": 1})
    assert report.warnings == ()
    assert sleeps == [2]
    project.export.assert_called_once_with(task_name=ANY, filters={"workflow_status": "Done"}, params=ANY)
    assert get_task.call_args_list == [call(client, "cltask1")] * 3
    # Read-only: the only client call is the project lookup; no webhook, label or project change.
    assert {name for name, _, _ in client.mock_calls} == {
        "get_project",
        "get_project().ontology",
        "get_project().export",
    }


def test_check_project_warns_on_a_misconfigured_project(client: Any, get_task: Any) -> None:
    from labeltune_tools.labelbox_setup import check_project

    project = lb.project(PROJECT, classifications=lb.LEGACY_ONTOLOGY)
    client.get_project.return_value = project
    project.export.return_value = lb.export_task("cltask2")
    rows = [
        lb.export_row(f"dr{i}", row_data="", texts={"prompt-text": "Summarise this", "response-text": "A summary"})
        for i in range(3)
    ]
    get_task.return_value = lb.export_task("cltask2", rows=rows)

    report = check_project(client, PROJECT, ProjectConfig(), LabelboxExportService(client=client))

    assert report.counts.accepted == 0
    assert dict(report.counts.rejected) == {"ambiguous_response": 3}
    text = "\n".join(report.warnings)
    assert "legacy prompt/response" in text
    assert "several free-text classifications" in text
    assert "no row converts" in text
    assert "rejected as ambiguous_response" in text


def test_check_project_on_an_empty_export(client: Any, get_task: Any) -> None:
    from labeltune_tools.labelbox_setup import check_project

    project = lb.project(PROJECT, classifications=lb.TEXT_ONTOLOGY)
    client.get_project.return_value = project
    project.export.return_value = lb.export_task("cltask3")
    get_task.return_value = lb.export_task("cltask3", rows=[])

    report = check_project(client, PROJECT, ProjectConfig(), LabelboxExportService(client=client))

    assert report.counts.rows == 0
    assert report.warnings == ("the export has no Done rows: approve some labels first",)
