"""`labeltune labelbox connect` and `labeltune labelbox check`: set up and verify a Labelbox project.

Thin on purpose: argument parsing, building the clients, printing. The logic is in labeltune_tools.labelbox_setup.
The Labelbox API key comes from $LABELBOX_API_KEY; AWS credentials and region from the usual boto3 chain.
Secrets are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labeltune.adapters.labelbox_export import LabelboxExportService
from labeltune.adapters.row_data_fetch import HttpsRowDataFetcher
from labeltune.domain.project_config import ProjectConfig
from labeltune.errors import ConfigurationError, ExportFailed, TransientError
from labeltune_tools.labelbox_setup import (
    CHECK_TIMEOUT_SECONDS,
    WEBHOOK_TOPICS,
    PredictionsCheck,
    check_project,
    connect_project,
    stack_targets,
    stored_config,
)

API_KEY_ENV = "LABELBOX_API_KEY"


def _labelbox_client() -> Any:
    """The real SDK client (imported here: it is slow to import and only these commands need it)."""
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        raise ConfigurationError(f"set {API_KEY_ENV} to a Labelbox API key")
    import labelbox

    return labelbox.Client(api_key=api_key)


def _aws_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region) if region else boto3.client(service)


def _project_store(table_name: str, region: str | None) -> Any:
    import boto3

    from labeltune.adapters.dynamodb_projects import DynamoProjectStore

    resource = boto3.resource("dynamodb", region_name=region) if region else boto3.resource("dynamodb")
    return DynamoProjectStore(table_name, resource=resource)


def _targets(args: argparse.Namespace) -> tuple[str, str, str]:
    """(webhook url, secret name prefix, projects table) from --stack or from the three explicit options."""
    explicit = (args.url, args.secret_prefix, args.projects_table)
    if args.stack:
        if any(explicit):
            raise ConfigurationError("give either --stack or --url/--secret-prefix/--projects-table, not both")
        targets = stack_targets(_aws_client("cloudformation", args.region), args.stack)
        return targets.webhook_url, targets.secret_prefix, targets.projects_table
    if not all(explicit):
        raise ConfigurationError("give --stack NAME, or all of --url, --secret-prefix and --projects-table")
    return args.url, args.secret_prefix, args.projects_table


def _connect(args: argparse.Namespace) -> int:
    url, secret_prefix, table = _targets(args)
    report = connect_project(
        _labelbox_client(),
        _aws_client("secretsmanager", args.region),
        _project_store(table, args.region),
        args.project,
        webhook_url=url,
        secret_prefix=secret_prefix,
        topics=tuple(args.topics),
        rotate_secret=args.rotate_secret,
    )
    secret_said = {
        "kept": "kept (already registered with Labelbox)",
        "generated": "generated the project's own hex secret and stored it",
        "rotated": "ROTATED: generated a new hex secret for the project and stored it",
    }[report.secret_action]
    print(f"Project:        {report.project_id} ({report.project_name})")
    print(f"Configuration:  {'default written to ' + table if report.config_written else 'kept (exists)'}")
    print(f"Webhook secret: {secret_said}  [{report.secret_name}] (value not shown)")
    print(f"Webhook:        {report.webhook.webhook_id} -> {report.webhook_url}")
    print(f"Topics:         {', '.join(report.topics)}")
    if report.webhook.deactivated:
        print(f"Deactivated:    {', '.join(report.webhook.deactivated)} (earlier webhooks for this URL)")
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


def _check_config(args: argparse.Namespace) -> ProjectConfig:
    if args.config:
        return ProjectConfig.model_validate_json(Path(args.config).read_text(encoding="utf-8"))
    table = args.projects_table
    if args.stack:
        table = stack_targets(_aws_client("cloudformation", args.region), args.stack).projects_table
    if table:
        return stored_config(_project_store(table, args.region), args.project)
    return ProjectConfig()


def _check(args: argparse.Namespace) -> int:
    config = _check_config(args)
    client = _labelbox_client()
    print(f"Exporting the Done rows of {args.project} (read-only; waiting up to {args.timeout:.0f} s)...")
    report = check_project(
        client,
        args.project,
        config,
        LabelboxExportService(client=client),
        fetcher=HttpsRowDataFetcher() if args.fetch_row_data else None,
        timeout_seconds=args.timeout,
    )
    mapping = report.mapping
    print(f"Project:        {report.project_id} ({report.project_name})")
    print("Classifications (top level):")
    for c in mapping.classifications:
        role = "prompt" if c == mapping.prompt else "response" if c == mapping.response else ""
        print(f"  {c.name:<32} {c.feature_schema_id or '-':<28} {c.type:<16} {role}")
    if not mapping.classifications:
        print("  (none)")
    prompt = mapping.prompt.name if mapping.prompt else mapping.mapping.prompt_from
    source = "the data row's row_data" if mapping.mapping.prompt_from == "row_data" else f"classification {prompt!r}"
    print(f"Prompt from:    {source}")
    response = repr(mapping.response.name) if mapping.response else "NOT FOUND"
    wanted = mapping.mapping.response_classification or "the single free-text classification"
    print(f"Response from:  {response} (mapping: {wanted})")
    if report.predictions is not None:
        print(f"Predictions:    {_predictions_line(report.predictions)}")
    counts = report.counts
    print(f"Export task:    {report.export_task_id}")
    rejected = counts.rows - counts.accepted
    print(f"Rows:           {counts.rows} exported, {counts.accepted} accepted, {rejected} rejected")
    for reason, count in sorted(counts.rejected.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {reason:<28} {count}")
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 1 if report.warnings else 0


def _predictions_line(check: PredictionsCheck) -> str:
    """Whether the tuned answers can go back to Labelbox, and where (predictions.* in the configuration)."""
    state = "on" if check.enabled else "off"
    if check.classification is None:
        said = f"{state}; the ontology does not allow them: {check.problem}"
    else:
        said = f"{state}; the ontology allows them, as classification {check.classification!r}"
    if check.review_project_id is not None:
        found = repr(check.review_project_name) if check.review_project_name is not None else "NOT FOUND"
        said += f"; review project {check.review_project_id} ({found})"
    return said


def _run(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Operator mistakes and outages end the command with a message and exit code, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError
        from lbox.exceptions import LabelboxError

        try:
            return int(handler(args))
        except TransientError as error:
            print(f"error (temporary, try again): {error}", file=sys.stderr)
            return 1
        except ExportFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except (ConfigurationError, ValidationError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (ClientError, BotoCoreError) as error:
            print(f"AWS error: {error}", file=sys.stderr)
            return 2
        except LabelboxError as error:
            print(f"Labelbox error: {type(error).__name__}: {error}", file=sys.stderr)
            return 2

    return run


def register(sub: Any) -> None:
    labelbox = sub.add_parser("labelbox", help="connect a Labelbox project to a stack, check its mapping")
    commands = labelbox.add_subparsers(dest="labelbox_command", required=True)

    connect = commands.add_parser(
        "connect",
        help="register the stack's webhook for a project and give it a default configuration",
        description="Creates the project's own webhook secret in Secrets Manager (hex; kept if it exists), "
        "registers the webhook with it, and writes the default project configuration unless one exists.",
    )
    connect.add_argument("--project", required=True, help="Labelbox project id")
    connect.add_argument("--stack", help="CloudFormation stack name (reads its outputs)")
    connect.add_argument("--url", help="webhook URL (the stack's WebhookUrl output)")
    connect.add_argument("--secret-prefix", help="the stack's ProjectWebhookSecretPrefix output")
    connect.add_argument("--projects-table", help="the stack's ProjectsTableName output")
    connect.add_argument(
        "--topics",
        nargs="+",
        choices=WEBHOOK_TOPICS,
        default=list(WEBHOOK_TOPICS),
        metavar="TOPIC",
        help=f"webhook topics (default: all of {' '.join(WEBHOOK_TOPICS)})",
    )
    connect.add_argument(
        "--rotate-secret",
        action="store_true",
        help="replace the project's secret: its earlier webhooks are deactivated and a new one registered",
    )
    connect.add_argument("--region", help="AWS region (default: the boto3 configuration)")
    connect.set_defaults(func=_run(_connect))

    check = commands.add_parser(
        "check",
        help="show how the project's ontology maps to prompt and response, and how its Done rows convert",
        description="Read-only: exports the Done rows (free) and converts them as a run would. Exit code 1 when "
        "there is something to fix.",
    )
    check.add_argument("--project", required=True, help="Labelbox project id")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--config", help="project configuration JSON file (default: the built-in defaults)")
    source.add_argument("--stack", help="read the project's stored configuration from this stack")
    source.add_argument("--projects-table", help="read the project's stored configuration from this table")
    check.add_argument("--fetch-row-data", action="store_true", help="fetch https row_data URLs as a run would")
    check.add_argument("--timeout", type=float, default=CHECK_TIMEOUT_SECONDS, help="seconds to wait for the export")
    check.add_argument("--region", help="AWS region (default: the boto3 configuration)")
    check.set_defaults(func=_run(_check))
