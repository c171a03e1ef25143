"""Scale of the fanned-out evaluation, on the local stack with the OpenAI emulator's injected latency.

The issue's target: 10,000 held-out examples x 2 models at 2 s a call with a concurrency of 32 within 1.25x the
ideal (examples x 2 x latency / concurrency), every Lambda limit respected at full scale. Here the same ratio,
scaled down: `--examples` held-out examples at `--latency` seconds a call (default 640 at 1 s: the ideal is about
40 s), through the real state machine (moto's engine runs the Distributed Map) and the real handlers. The latency
stays long next to the local stack's own cost of a call (the SDK, the emulator, ROUGE-L, all in one process on
this machine's CPUs), as 2 s is next to a Lambda's: at 0.1 s a call the local process is CPU-bound and measures
itself, not the fan-out. It
prints the Map's wall time against the ideal, and, at full scale, what each invocation would take: the chunk
size the plan picks for 10,000 examples, a chunk's duration at 2 s a call (from the chunk size; the calls
dominate it), and the memory and time of the plan and the aggregate steps run on 10,000 examples in this
process (tracemalloc), next to Lambda's limits.

    .venv/bin/python benchmarks/bench_evaluation.py [--examples 640] [--latency 1.0] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from labeltune.domain.models import ChunkRef
from labeltune.pipeline.evaluate import (
    CALLS_PER_EXAMPLE,
    aggregate_evaluation,
    chunk_size,
    evaluate_chunk,
    plan_evaluation,
)
from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions
from labeltune_tools.sample_data import write_export

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: the full-scale part uses the tests' fakes
from tests.fakes import InMemoryObjectStore, InMemoryRunStore, ScriptedChatModel

TARGET_RATIO = 1.25
LAMBDA_TIMEOUT_SECONDS = 900
EVALUATE_MEMORY_MB = 1024  # template.yaml's EvaluateFunction
STATE_PAYLOAD_LIMIT = 256 * 1024
FULL_EXAMPLES, FULL_LATENCY = 10_000, 2.0


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def run_scaled(examples: int, latency: float, concurrency: int) -> dict[str, float]:
    """One run through the real state machine; the Map's and the whole evaluation's wall time."""
    eval_share = 0.8
    rows = int(examples / eval_share) + 20
    options = StackOptions(job_duration_seconds=1.0, fallback_check_seconds=5, default_provider="openai")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack(options=options) as stack:
        assert stack.emulator is not None and stack.resources is not None
        project = f"bench-eval-{uuid.uuid4().hex[:8]}"
        export = Path(tmp) / "export.ndjson"
        write_export(export, n_valid=rows)
        records = [json.loads(line) for line in export.read_text().splitlines()]
        for record in records:
            record["projects"] = {project: next(iter(record["projects"].values()))}
        body = "\n".join(json.dumps(r) for r in records).encode()
        stack.client("s3").put_object(Bucket=stack.resources.bucket_name, Key=f"exports/{project}.ndjson", Body=body)
        stack.configure_project(
            project,
            {"split": {"train": 0.15, "validation": 0.05, "eval": eval_share}, "evaluation_concurrency": concurrency},
        )
        stack.emulator.faults.latency_seconds = latency
        request = urllib.request.Request(
            f"{stack.api_url}/projects/{project}/runs",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            run_id = json.loads(response.read())["run_id"]
        execution = stack.wait_for_execution(run_id, timeout=1800)
        events = stack.client("stepfunctions").get_execution_history(
            executionArn=execution["executionArn"], maxResults=1000
        )["events"]
        entered = {
            e["stateEnteredEventDetails"]["name"]: _epoch(e["timestamp"])
            for e in events
            if "stateEnteredEventDetails" in e
        }
        exited = {
            e["stateExitedEventDetails"]["name"]: _epoch(e["timestamp"])
            for e in events
            if "stateExitedEventDetails" in e
        }
        run = stack.get_run(run_id) or {}
        return {
            "status": 1.0 if execution["status"] == "SUCCEEDED" else 0.0,
            "examples": float(run.get("evaluated_examples") or 0),
            "chunks": float(run.get("evaluation_chunks") or 0),
            "map": exited["EvaluateChunks"] - entered["EvaluateChunks"],
            "evaluation": exited["AggregateEvaluation"] - entered["PlanEvaluation"],
        }


def full_scale(concurrency: int) -> list[str]:
    """Plan and aggregate on 10,000 examples in this process; a chunk's duration at 2 s a call from its size."""
    store, runs = InMemoryObjectStore(), InMemoryRunStore()
    runs.create_run("r", "p")
    line = {
        "data_row_id": "",
        "messages": [
            {"role": "system", "content": "Summarise the chat in two or three sentences, without personal data."},
            {"role": "user", "content": "Customer: my parcel never arrived. " * 40},
            {"role": "assistant", "content": "The customer's parcel did not arrive; the agent resent it."},
        ],
    }
    store.put_lines("eval.jsonl", [json.dumps({**line, "data_row_id": f"dr-{i}"}) for i in range(FULL_EXAMPLES)])
    lines = []
    tracemalloc.start()
    started = time.perf_counter()
    plan = plan_evaluation("r", "eval.jsonl", store, runs, bucket="b", concurrency=concurrency)
    plan_seconds = time.perf_counter() - started
    plan_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    chat = ScriptedChatModel(lambda model, system, user: "The parcel did not arrive; the agent resent it.")
    manifest = store.get_json(plan.manifest_key)
    chunk_peak = 0
    for item in manifest:
        tracemalloc.reset_peak()
        evaluate_chunk("r", ChunkRef.model_validate(item), "base", "tuned", store, chat)
        chunk_peak = max(chunk_peak, tracemalloc.get_traced_memory()[1])
    tracemalloc.reset_peak()
    started = time.perf_counter()
    aggregate_evaluation("r", plan.manifest_key, "base", "tuned", store, runs)
    aggregate_seconds = time.perf_counter() - started
    aggregate_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = chunk_size(FULL_EXAMPLES, plan.max_concurrency)
    chunk_seconds = size * FULL_LATENCY  # base and tuned asked together: one call's latency per example
    waves = -(-plan.chunks // plan.max_concurrency)
    ideal = FULL_EXAMPLES * CALLS_PER_EXAMPLE * FULL_LATENCY / concurrency
    manifest_bytes = len(json.dumps(manifest))
    item_bytes = max(
        len(json.dumps({"chunk": item, "run_id": "run-" + "x" * 24, "base_model": "m" * 60})) for item in manifest
    )
    mib = 1024 * 1024
    map_seconds = waves * chunk_seconds
    lines.append(
        f"full scale ({FULL_EXAMPLES:,} examples, {FULL_LATENCY:g} s a call, concurrency {concurrency}): "
        f"{plan.chunks} chunks of {size} in {waves} waves of {plan.max_concurrency}; Map about {map_seconds:,.0f} s "
        f"against the ideal {ideal:,.0f} s ({map_seconds / ideal:.2f}x, without Lambda and Step Functions overhead)"
    )
    lines.append(
        f"  worst chunk invocation: {chunk_seconds:.0f} s of the {LAMBDA_TIMEOUT_SECONDS} s timeout; "
        f"its Python heap peak {chunk_peak / mib:.1f} MiB"
    )
    lines.append(
        f"  plan: {plan_seconds:.1f} s, heap peak {plan_peak / mib:.1f} MiB; aggregate: {aggregate_seconds:.1f} s, "
        f"heap peak {aggregate_peak / mib:.1f} MiB (function memory {EVALUATE_MEMORY_MB} MB, "
        f"timeout {LAMBDA_TIMEOUT_SECONDS} s)"
    )
    lines.append(
        f"  manifest {manifest_bytes / 1024:.1f} KiB (read by the Map from S3); largest Map item {item_bytes} bytes "
        f"(state payload limit {STATE_PAYLOAD_LIMIT // 1024} KiB)"
    )
    ok = chunk_seconds < LAMBDA_TIMEOUT_SECONDS and aggregate_peak < EVALUATE_MEMORY_MB * mib / 2
    lines.append("  limits respected" if ok else "  LIMIT EXCEEDED")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=640)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    measured = run_scaled(args.examples, args.latency, args.concurrency)
    examples = measured["examples"]
    ideal = examples * CALLS_PER_EXAMPLE * args.latency / args.concurrency
    ratio = measured["map"] / ideal if ideal else float("inf")
    print(
        f"local stack: {examples:.0f} held-out examples x {CALLS_PER_EXAMPLE} models at {args.latency:g} s a call, "
        f"concurrency {args.concurrency}: {measured['chunks']:.0f} chunks; the Map took {measured['map']:.1f} s "
        f"against the ideal {ideal:.1f} s ({ratio:.2f}x, target <= {TARGET_RATIO}); the whole evaluation "
        f"(plan, Map, aggregate) {measured['evaluation']:.1f} s; run {'SUCCEEDED' if measured['status'] else 'FAILED'}"
    )
    for line in full_scale(args.concurrency):
        print(line)
    ok = measured["status"] == 1.0 and ratio <= TARGET_RATIO
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
