"""Run the emulator in the foreground: `python -m labeltune.emulator --port 8089`."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from labeltune.emulator.faults import FaultPlan
from labeltune.emulator.server import OpenAIEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labeltune.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--job-duration", type=float, default=3.0, help="seconds from job creation to success")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with a 500")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random error draws")
    args = parser.parse_args(argv)

    faults = FaultPlan(latency_seconds=args.latency, error_rate=args.error_rate, seed=args.seed)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with OpenAIEmulator(job_duration_seconds=args.job_duration, host=args.host, port=args.port, faults=faults) as emu:
        print(f"OpenAI emulator listening on {emu.base_url} (any API key)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()


if __name__ == "__main__":
    main()
