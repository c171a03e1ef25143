"""Run the Bedrock emulator from a shell, reading training data from an S3 endpoint (e.g. moto's server).

    python -m labeltune_tools.bedrock_emulator --port 8090 --s3-endpoint-url http://127.0.0.1:5000

State change events are printed to stdout, one JSON object a line, as an EventBridge rule's log target
would show them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from typing import Any

from labeltune_tools.bedrock_emulator.server import BedrockEmulator


def _print_event(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--s3-endpoint-url", help="where training data is read from (default: boto3's own)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--job-duration", type=float, default=3.0, help="seconds from InProgress to Completed")
    parser.add_argument("--deployment-duration", type=float, default=1.0, help="seconds from Creating to Active")
    parser.add_argument("--drop-events", action="store_true", help="record state change events but never print them")
    args = parser.parse_args(argv)

    import boto3

    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint_url, region_name=args.region)
    emulator = BedrockEmulator(
        s3_client=s3,
        on_event=_print_event,
        drop_events=args.drop_events,
        job_duration_seconds=args.job_duration,
        deployment_duration_seconds=args.deployment_duration,
        region=args.region,
        host=args.host,
        port=args.port,
    )
    with emulator:
        print(f"Bedrock emulator on {emulator.endpoint_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
