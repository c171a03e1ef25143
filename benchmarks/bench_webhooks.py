"""Load benchmark of the Labelbox webhook route on the local stack.

Sends deliveries concurrently over HTTP for one project: unique approval events, repeats of earlier
deliveries (a quarter of the total), and malformed ones (bad signature, not JSON, no project). Then it
checks what a demanding user cares about and prints the numbers:

- no 5xx, with 10% of DynamoDB transactions cancelled by an injected TransactionConflict (as real DynamoDB
  cancels concurrent transactions on one project; moto alone never does); every malformed delivery got its 4xx;
- no lost event: the events the runs took plus those still pending equal the unique deliveries;
- exactly the expected number of runs: unique // min_new_labels (the trigger policy allows one run in
  flight and one follow-up; with these numbers that arithmetic is exact whatever the timing);
- p50 / p99 latency of the webhook route, measured by the client.

Everything runs on this machine (loopback only). The numbers describe the local stack (moto, in-process
handlers serialised by one lock), not API Gateway + Lambda; they are for comparing versions of labeltune.

    .venv/bin/python benchmarks/bench_webhooks.py [--deliveries 1000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labeltune.adapters.dynamodb_projects import DynamoProjectStore
from labeltune.domain.signature import sign
from labeltune_tools.embedded.moto_dynamodb import CONFLICTS, inject_transaction_conflicts
from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"


def plan(total: int, seed: int) -> tuple[list[tuple[str, str]], int, int]:
    """(kind, delivery id) in a shuffled order: 25% repeats, 5% malformed, the rest unique."""
    rng = random.Random(seed)
    repeats, malformed = total // 4, total // 20
    unique = total - repeats - malformed
    ids = [f"delivery-{i:05d}" for i in range(unique)]
    deliveries = [("valid", d) for d in ids]
    deliveries += [("valid", rng.choice(ids)) for _ in range(repeats)]
    deliveries += [(rng.choice(["bad-signature", "not-json", "no-project"]), f"bad-{i}") for i in range(malformed)]
    rng.shuffle(deliveries)
    return deliveries, unique, malformed


def request(api_url: str, secret: str, project: str, kind: str, delivery_id: str) -> tuple[int, float]:
    row = delivery_id.removeprefix("delivery-")  # each unique delivery approves its own data row
    body = json.dumps(
        {"id": f"label-{row}", "label": "{}", "dataRow": {"id": f"dr-{row}"}, "project": {"id": project}}
    ).encode()
    if kind == "not-json":
        body = b"<html>not json</html>"
    elif kind == "no-project":
        body = json.dumps({"id": delivery_id}).encode()
    signature = sign("not-the-secret" if kind == "bad-signature" else secret, body)
    headers = {"X-Hub-Signature-256": signature, "X-Labelbox-Id": delivery_id, "X-Labelbox-Event": "WORKFLOW_ACTION"}
    started = time.perf_counter()
    req = urllib.request.Request(f"{api_url}/webhooks/labelbox", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--min-new-labels", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--conflict-rate",
        type=float,
        default=0.1,
        help="share of DynamoDB transactions cancelled with TransactionConflict, as real DynamoDB does under "
        "concurrent writes to one project (moto alone never conflicts)",
    )
    args = parser.parse_args()

    deliveries, unique, malformed = plan(args.deliveries, args.seed)
    expected_runs = unique // args.min_new_labels
    with EmbeddedStack(options=StackOptions(job_duration_seconds=1.0)) as stack:
        assert stack.resources is not None
        project = f"bench-{uuid.uuid4().hex[:8]}"
        stack.upload_export(project, EXPORT)  # rows are filed under the demo project: runs fail fast, which is fine
        stack.configure_project(project, {"min_new_labels": args.min_new_labels})
        secret = stack.webhook_secret(project)
        inject_transaction_conflicts(args.conflict_rate, seed=args.seed)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(lambda d: (d[0], *request(stack.api_url, secret, project, *d)), deliveries))
        wall = time.perf_counter() - started
        conflicts = CONFLICTS.injected
        inject_transaction_conflicts(0.0)

        runs = [e for e in stack.executions() if (stack.get_run(e["name"]) or {}).get("project_id") == project]
        for execution in runs:
            stack.wait_for_execution(execution["name"])
        deadline = time.monotonic() + 60  # a follow-up may start when the last run ends
        while time.monotonic() < deadline:
            runs = [e for e in stack.executions() if (stack.get_run(e["name"]) or {}).get("project_id") == project]
            finished = all(stack.wait_for_execution(e["name"])["status"] != "RUNNING" for e in runs)
            if finished and len(runs) >= expected_runs:
                break
            time.sleep(0.5)
        dynamodb = stack.client_session().resource("dynamodb")
        store = DynamoProjectStore(stack.resources.ref("ProjectsTable"), resource=dynamodb)
        state = store.get_project(project) or {}
        consumed = sum(int((stack.get_run(e["name"]) or {}).get("labels_consumed", 0)) for e in runs)

    statuses = [status for _, status, _ in results]
    latencies = sorted(latency for _, _, latency in results)
    valid_latencies = sorted(latency for kind, _, latency in results if kind == "valid")
    server_errors = sum(1 for s in statuses if s >= 500)
    bad_rejected = sum(1 for kind, status, _ in results if kind != "valid" and 400 <= status < 500)
    pending = int(state.get("pending_labels", 0))

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    print(
        f"deliveries: {len(deliveries)} ({unique} unique, {len(deliveries) - unique - malformed} repeats, "
        f"{malformed} malformed), concurrency {args.concurrency}, min_new_labels {args.min_new_labels}"
    )
    print(f"wall time: {wall:.2f} s  ->  {len(deliveries) / wall:.0f} deliveries/s")
    print(
        f"latency (all):   p50 {pct(latencies, 0.50):.1f} ms   p99 {pct(latencies, 0.99):.1f} ms   "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    print(
        f"latency (valid): p50 {pct(valid_latencies, 0.50):.1f} ms   p99 {pct(valid_latencies, 0.99):.1f} ms   "
        f"mean {statistics.fmean(valid_latencies) * 1000:.1f} ms"
    )
    print(f"status codes: {dict(sorted({s: statuses.count(s) for s in set(statuses)}.items()))}")
    print(f"DynamoDB transaction conflicts injected: {conflicts} (rate {args.conflict_rate:.0%}), retried by the store")
    print(f"runs started: {len(runs)} (expected {expected_runs})")
    print(f"labels: {consumed} taken by runs + {pending} pending = {consumed + pending} (unique deliveries {unique})")
    checks = {
        "no 5xx": server_errors == 0,
        "every malformed delivery got a 4xx": bad_rejected == malformed,
        "no lost or double-counted label": consumed + pending == unique,
        "exactly the expected number of runs": len(runs) == expected_runs,
    }
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    print("(local stack: moto + in-process handlers; not a measure of API Gateway/Lambda latency)")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
