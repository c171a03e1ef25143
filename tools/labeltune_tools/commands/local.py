"""`labeltune demo` and `labeltune local up`: the embedded local stack.

Bad options and input files (a missing export, nonsense durations, a taken port) end the command with one
line on stderr and exit status 2, before any server starts: argparse `type=` functions check the options,
and `labeltune_tools.cli.main` prints the UsageError and StackError these commands raise.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labeltune.domain.signature import sign
from labeltune_tools.commands.arguments import positive_seconds
from labeltune_tools.embedded.demo import PROVIDER_CHOICES
from labeltune_tools.embedded.keep import keep_directory
from labeltune_tools.embedded.stack import PortUnavailable, StackError, repo_root

if TYPE_CHECKING:
    from labeltune_tools.embedded.stack import EmbeddedStack

# What an operator typed for each StackOptions port setting, for the messages.
PORT_OPTIONS = {"api_port": "--api-port", "moto_port": "--moto-port", "emulator_port": "--emulator-port"}


class UsageError(Exception):
    """Something the operator must fix in the command line or its input files (one line, exit status 2)."""


# The errors `labeltune_tools.cli.main` reports as one line instead of a traceback.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (UsageError, StackError)


def default_export() -> Path:
    """The committed example export, standing in for Labelbox."""
    return repo_root() / "examples" / "labelbox_export.ndjson"


# -- argparse `type=` checks: each raises ArgumentTypeError with the message the operator sees ------------


def export_file(value: str) -> Path:
    """An existing, readable, non-empty regular file (else the stack would start and then fail on it)."""
    path = Path(value).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"no export file at {path}") from None
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read the export file {path}: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise argparse.ArgumentTypeError(f"{path} is a directory, not an export file")
    if not stat.S_ISREG(info.st_mode):
        raise argparse.ArgumentTypeError(f"{path} is not a regular file")
    if info.st_size == 0:
        raise argparse.ArgumentTypeError(f"the export file {path} is empty")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read the export file {path}: permission denied")
    return path


def positive_whole_seconds(value: str) -> int:
    """A whole number of seconds, at least 1 (0 would poll without pause, a negative wait is invalid)."""
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {value!r}") from None
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {value!r}")
    return seconds


def port_number(value: str) -> int:
    """A TCP port, 0-65535; 0 means any free port."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: any free port), not {value!r}")
    return port


def _export(args: argparse.Namespace) -> Path:
    """--export, or the example export checked the same way (it may be missing outside a checkout)."""
    if args.export is not None:
        return Path(args.export)
    try:
        return export_file(str(default_export()))
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"{error} (give one with --export)") from None


def _port_message(error: PortUnavailable) -> str:
    return error.describe(PORT_OPTIONS)


# -- the commands ---------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from labeltune_tools.embedded.demo import run_demo
    from labeltune_tools.embedded.stack import StackOptions

    options = StackOptions(
        fallback_check_seconds=args.fallback_check or (300 if args.real_openai else 30),
        job_duration_seconds=args.job_seconds,
        bedrock_job_seconds=args.job_seconds,
        api_port=args.api_port,
        moto_port=args.moto_port,
        emulator_port=args.emulator_port,
        openai_api_key=os.environ.get("OPENAI_API_KEY") if args.real_openai else None,
        labelbox_api_key=os.environ.get("LABELBOX_API_KEY") if args.real_labelbox else None,
    )
    if args.real_openai and not options.openai_api_key:
        raise UsageError("--real-openai needs OPENAI_API_KEY in the environment")
    if args.real_labelbox and not options.labelbox_api_key:
        raise UsageError("--real-labelbox needs LABELBOX_API_KEY in the environment")
    # Both providers need two projects; a real Labelbox project is one, so the operator says which provider.
    provider = args.provider or ("both" if not args.real_labelbox else None)
    if provider is None or (args.real_labelbox and provider == "both"):
        raise UsageError("--real-labelbox runs one Labelbox project: add --provider openai or --provider bedrock")
    # With --real-labelbox Labelbox itself is the source and no export file is read.
    export = (args.export or default_export()) if args.real_labelbox else _export(args)
    try:
        return run_demo(
            export, args.project, sys.stdout, options, provider=provider, report_dir=args.report_dir, keep=args.keep
        )
    except PortUnavailable as error:
        raise UsageError(_port_message(error)) from error


def _local_up(args: argparse.Namespace) -> int:
    from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions

    export = _export(args)
    options = StackOptions(
        api_port=args.api_port, moto_port=args.moto_port, emulator_port=args.emulator_port, require_signed=True
    )
    try:
        with EmbeddedStack(options=options) as stack:
            return _serve(stack, args.project, export)
    except PortUnavailable as error:
        raise UsageError(_port_message(error)) from error


# The delivery `local up`'s curl sends: Labelbox's v1 shape (what SDK-created webhooks send), fixed ids, so sending
# it twice is one delivery, answered again as the first time (a label is counted once).
CURL_LABEL_ID = "curl-label-1"
CURL_ROW_ID = "curl-data-row-1"
CURL_DELIVERY_ID = "curl-delivery-1"
CURL_TOPIC = "WORKFLOW_ACTION"


def webhook_body(project: str) -> bytes:
    """The exact bytes the printed curl sends (the signature covers these bytes, so they are fixed here)."""
    payload = {
        "id": CURL_LABEL_ID,
        "label": "{}",
        "dataRow": {"id": CURL_ROW_ID},
        "project": {"id": project},
        "event": CURL_TOPIC,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def webhook_curl(api_url: str, project: str, secret: str) -> str:
    """A curl for POST /webhooks/labelbox as Labelbox sends it: HMAC-SHA256 of the body with the project's webhook
    secret in X-Hub-Signature-256 (labeltune.domain.signature), its delivery id and topic in X-Labelbox-*."""
    body = webhook_body(project)
    headers = {
        "Content-Type": "application/json",
        "X-Labelbox-Id": CURL_DELIVERY_ID,
        "X-Labelbox-Event": CURL_TOPIC,
        "X-Hub-Signature-256": sign(secret, body, "sha256"),
    }
    parts = ["curl", "-sS", "-X", "POST", f"{api_url}/webhooks/labelbox"]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-raw", body.decode()]
    return shlex.join(parts)


def sigv4_curl(api_url: str, path: str, method: str = "GET") -> str:
    """curl (7.75+) signing a management route with SigV4 for execute-api, as API Gateway's IAM auth checks."""
    from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY, SIGNING_SERVICE

    return shlex.join(
        [
            "curl",
            "-sS",
            *(["-X", method] if method != "GET" else []),
            "--aws-sigv4",
            f"aws:amz:{LOCAL_REGION}:{SIGNING_SERVICE}",
            "--user",
            f"{LOCAL_ACCESS_KEY_ID}:{LOCAL_SECRET_ACCESS_KEY}",
            f"{api_url}{path}",
        ]
    )


def local_up_lines(
    *,
    api_url: str,
    project: str,
    webhook_secret: str,
    moto_url: str,
    emulator_url: str,
    state_machine_arn: str,
    table_name: str,
    bucket_name: str,
    services: Mapping[str, str],
    signed: bool,
) -> list[str]:
    """What `labeltune local up` prints: where everything is, a signed webhook and a signed management call to
    paste, and that nothing survives a restart. The webhook URL has a line of its own (to paste into Labelbox
    or a tunnel)."""
    checked = (
        "this stack refuses unsigned management requests, as API Gateway's IAM auth does"
        if signed
        else "this stack does not check the signature yet; a deployed one does"
    )
    return [
        "labeltune local stack (LOCAL: all services emulated)",
        *(f"  {service}: {how}" for service, how in services.items()),
        f"API:              {api_url}  (POST /webhooks/labelbox, /projects/{{id}}/runs, /runs/{{id}})",
        f"Webhook URL: {api_url}/webhooks/labelbox",
        f"Webhook secret:   {webhook_secret}  (project {project}; each project has its own)",
        f"Signed webhook (a Labelbox-shaped {CURL_TOPIC} delivery for {project}, signed with its secret; it starts "
        "a run, and sent again it is the same delivery, answered as before):",
        f"  {webhook_curl(api_url, project, webhook_secret)}",
        f"Management routes (SigV4 for execute-api with the local stack's own credentials, not AWS ones; {checked}):",
        f"  {sigv4_curl(api_url, f'/projects/{project}/runs')}",
        f"  {sigv4_curl(api_url, f'/projects/{project}/runs', method='POST')}   (starts a run by hand)",
        f"  labeltune runs list {project} --local",
        f"AWS (moto):       export AWS_ENDPOINT_URL={moto_url} AWS_ACCESS_KEY_ID=local "
        "AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1",
        f"OpenAI emulator:  {emulator_url}",
        f"State machine:    {state_machine_arn}",
        f"Runs table:       {table_name}   Bucket: {bucket_name}",
        "State does NOT survive a restart: moto keeps every project, run, delivery and file in this process's "
        "memory, and Ctrl-C loses them all. To keep a run's files, run `labeltune demo --keep DIR`.",
        "Ctrl-C stops the stack.",
    ]


def _serve(stack: EmbeddedStack, project: str, export: Path) -> int:
    """Print how to reach the stack, then keep it up until Ctrl-C."""
    from labeltune_tools.embedded.stack import EMULATED

    stack.upload_export(project, export)
    stack.configure_project(project)
    assert stack.resources is not None and stack.emulator is not None
    lines = local_up_lines(
        api_url=stack.api_url,
        project=project,
        webhook_secret=stack.webhook_secret(project),
        moto_url=stack.moto_url,
        emulator_url=stack.emulator.base_url,
        state_machine_arn=stack.resources.state_machine_arn,
        table_name=stack.resources.table_name,
        bucket_name=stack.resources.bucket_name,
        services=EMULATED,
        signed=stack.options.require_signed,
    )
    print("\n".join(lines), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _add_port_options(parser: argparse.ArgumentParser, api: int, moto: int, emulator: int) -> None:
    any_free = "0: any free port"
    parser.add_argument("--api-port", type=port_number, default=api, help=f"the API's port ({any_free})")
    parser.add_argument("--moto-port", type=port_number, default=moto, help=f"moto's (AWS) port ({any_free})")
    parser.add_argument(
        "--emulator-port", type=port_number, default=emulator, help=f"the OpenAI emulator's port ({any_free})"
    )


def register(sub: Any) -> None:
    """`sub` comes from labeltune_tools.cli, whose parser class takes `one_line_errors`."""
    export_help = f"Labelbox export (NDJSON) standing in for Labelbox (default: {default_export()})"

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on the local stack, for OpenAI and Amazon Bedrock side by side by default",
        one_line_errors=True,
    )
    demo.add_argument(
        "--provider",
        choices=PROVIDER_CHOICES,
        default=None,
        help="who fine-tunes: openai, bedrock, or both at once on one stack, compared side by side "
        "(default both; with --real-labelbox give one)",
    )
    demo.add_argument("--export", type=export_file, default=None, help=export_help)
    demo.add_argument("--project", default="clx-support-summaries-demo")
    demo.add_argument(
        "--fallback-check",
        type=positive_whole_seconds,
        default=None,
        help="seconds a run waits for the provider's completion event before checking the job itself "
        "(default 30, or 300 with --real-openai, whose webhooks cannot reach this machine)",
    )
    demo.add_argument(
        "--job-seconds",
        type=positive_seconds,
        default=3.0,
        help="how long an emulated fine-tune takes (OpenAI and Bedrock emulators)",
    )
    demo.add_argument(
        "--real-openai",
        action="store_true",
        help="use the real OpenAI API with $OPENAI_API_KEY (creates a PAID fine-tuning job)",
    )
    demo.add_argument(
        "--real-labelbox",
        action="store_true",
        help="export --project from the real Labelbox with $LABELBOX_API_KEY instead of --export",
    )
    demo.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where each run's HTML report is written, as labeltune-report-<run id>.html "
        "(default: a new directory under the system's temporary directory, or only the --keep directory "
        "when --keep is given; the paths are printed)",
    )
    demo.add_argument(
        "--keep",
        type=keep_directory,
        default=None,
        metavar="DIR",
        help="keep each run's artefacts after the stack (in memory) exits: DIR/<run id>/ gets the dataset "
        "files, the evaluation, the run record (run.json) and the report (report.html); DIR must be new or empty",
    )
    _add_port_options(demo, api=0, moto=0, emulator=0)
    demo.set_defaults(func=_demo, command_name="demo")

    local = sub.add_parser("local", help="the local stack")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="start the local stack and keep it running", one_line_errors=True)
    up.add_argument("--export", type=export_file, default=None, help=export_help)
    up.add_argument("--project", default="clx-support-summaries-demo")
    _add_port_options(up, api=8000, moto=5000, emulator=8100)
    up.set_defaults(func=_local_up, command_name="local up")
