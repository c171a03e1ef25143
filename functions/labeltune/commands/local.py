"""`labeltune demo` and `labeltune local up`: the embedded local stack."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from labeltune.local.stack import repo_root


def _demo(args: argparse.Namespace) -> int:
    from labeltune.local.demo import run_demo
    from labeltune.local.stack import StackOptions

    options = StackOptions(
        poll_interval_seconds=args.poll_interval or (60 if args.real_openai else 1),
        job_duration_seconds=args.job_seconds,
        openai_api_key=os.environ.get("OPENAI_API_KEY") if args.real_openai else None,
        labelbox_api_key=os.environ.get("LABELBOX_API_KEY") if args.real_labelbox else None,
    )
    if args.real_openai and not options.openai_api_key:
        print("--real-openai needs OPENAI_API_KEY in the environment", file=sys.stderr)
        return 2
    if args.real_labelbox and not options.labelbox_api_key:
        print("--real-labelbox needs LABELBOX_API_KEY in the environment", file=sys.stderr)
        return 2
    return run_demo(Path(args.export), args.project, sys.stdout, options)


def _local_up(args: argparse.Namespace) -> int:
    from labeltune.local.stack import EMULATED, LocalStack, StackOptions

    options = StackOptions(api_port=args.api_port, moto_port=args.moto_port, emulator_port=args.emulator_port)
    with LocalStack(options=options) as stack:
        stack.upload_export(args.project, Path(args.export))
        stack.configure_project(args.project)
        assert stack.resources is not None and stack.emulator is not None
        print("labeltune local stack (LOCAL: all services emulated)")
        for service, how in EMULATED.items():
            print(f"  {service}: {how}")
        print(f"API:              {stack.api_url}  (POST /webhooks/labelbox, /projects/{{id}}/runs, /runs/{{id}})")
        print(
            f"AWS (moto):       export AWS_ENDPOINT_URL={stack.moto_url} AWS_ACCESS_KEY_ID=local "
            "AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
        )
        print(f"OpenAI emulator:  {stack.emulator.base_url}")
        print(f"Webhook secret:   {stack.webhook_secret}")
        print(f"State machine:    {stack.resources.state_machine_arn}")
        print(f"Runs table:       {stack.resources.table_name}   Bucket: {stack.resources.bucket_name}")
        print(f"Try:              curl -X POST {stack.api_url}/projects/{args.project}/runs")
        print("Ctrl-C stops the stack.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def register(sub: Any) -> None:
    default_export = str(repo_root() / "examples" / "labelbox_export.ndjson")

    demo = sub.add_parser("demo", help="run the whole pipeline once on the local stack")
    demo.add_argument("--export", default=default_export, help="Labelbox export (NDJSON) standing in for Labelbox")
    demo.add_argument("--project", default="clx-support-summaries-demo")
    demo.add_argument(
        "--poll-interval",
        type=int,
        default=None,
        help="seconds between fine-tune status checks (default 1, or 60 with --real-openai)",
    )
    demo.add_argument("--job-seconds", type=float, default=3.0, help="how long the emulated fine-tune takes")
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
    demo.set_defaults(func=_demo)

    local = sub.add_parser("local", help="the local stack")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="start the local stack and keep it running")
    up.add_argument("--export", default=default_export)
    up.add_argument("--project", default="clx-support-summaries-demo")
    up.add_argument("--api-port", type=int, default=8000)
    up.add_argument("--moto-port", type=int, default=5000)
    up.add_argument("--emulator-port", type=int, default=8100)
    up.set_defaults(func=_local_up)
