"""Run the emulator in the foreground: `python -m labeltune_tools.emulator --port 8089`."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading

from labeltune_tools.emulator.faults import FaultPlan
from labeltune_tools.emulator.server import OpenAIEmulator
from labeltune_tools.emulator.webhooks import DEFAULT_RETRY_DELAYS


def _statuses(raw: str) -> tuple[int, ...]:
    """`429,500,503` -> (429, 500, 503), for `--error-statuses`."""
    try:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated HTTP statuses, got {raw!r}") from None


def _delays(raw: str) -> tuple[float, ...]:
    """`0.5,2,10` -> (0.5, 2.0, 10.0), for `--webhook-retry-delays` ("" means no retries)."""
    try:
        return tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated seconds, got {raw!r}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labeltune_tools.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--job-duration", type=float, default=3.0, help="seconds from job creation to success")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered with an error (500 by default)"
    )
    parser.add_argument(
        "--error-statuses", type=_statuses, default=(), help="statuses the random errors pick from, e.g. 429,500,503"
    )
    parser.add_argument("--stall-rate", type=float, default=0.0, help="share of requests held --stall-seconds")
    parser.add_argument("--stall-seconds", type=float, default=0.0, help="how long a random stall holds a request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random error and stall draws")
    parser.add_argument("--webhook-url", default=None, help="POST fine_tuning.job.* webhooks here")
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("OPENAI_WEBHOOK_SECRET"),
        help="whsec_ signing secret (default: $OPENAI_WEBHOOK_SECRET, else a generated one, printed)",
    )
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=DEFAULT_RETRY_DELAYS,
        help="comma-separated seconds before each retry of a webhook not answered 2xx (default 0.05,0.2,0.5)",
    )
    parser.add_argument("--drop-webhooks", action="store_true", help="record webhook events but never send them")
    parser.add_argument("--duplicate-webhooks", action="store_true", help="deliver every webhook event twice")
    args = parser.parse_args(argv)

    faults = FaultPlan(
        latency_seconds=args.latency,
        error_rate=args.error_rate,
        error_statuses=args.error_statuses,
        stall_rate=args.stall_rate,
        stall_seconds=args.stall_seconds,
        seed=args.seed,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with OpenAIEmulator(
        job_duration_seconds=args.job_duration,
        host=args.host,
        port=args.port,
        faults=faults,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        drop_webhooks=args.drop_webhooks,
        duplicate_webhooks=args.duplicate_webhooks,
        webhook_retry_delays=args.webhook_retry_delays,
    ) as emu:
        print(f"OpenAI emulator listening on {emu.base_url} (any API key)", flush=True)
        if args.webhook_url:
            print(f"Sending fine-tuning webhooks to {args.webhook_url}", flush=True)
            if args.webhook_secret is None:  # a throwaway local secret the receiver needs to verify
                print(f"Webhook secret (generated): {emu.webhook_secret}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()


if __name__ == "__main__":
    main()
