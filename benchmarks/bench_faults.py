"""Fault benchmark of the whole pipeline on the local stack, with the OpenAI emulator misbehaving.

Starts `--runs` pipeline runs (one project each, the sample export refiled under it) in waves of
`--wave` runs started together, while the emulator injects faults into every OpenAI request:

- random faults, seeded: 15% of requests fail with 429, 500 or 503 (a third each) and 5% are held
  longer than any client timeout and then processed anyway (the client times out, the request still
  takes effect): 20% in all;
- one stalled job create for every 5 runs (`POST /v1/fine_tuning/jobs` held longer than the client's
  create timeout, then the job is created anyway): the case the settle fence of pipeline.fine_tune is
  for. They are queued when a wave starts (one per 5 runs of the wave) and hit its first creates.

Timeouts are scaled down 15x with their ratios kept: PROVIDER_TIMEOUT_SECONDS 2 s (30 s deployed; job
creates get twice that: 4 s, 60 s deployed), JOB_CREATE_SETTLE_SECONDS 12 s (180 s deployed), random
stalls 5 s (75 s), the stalled creates 8 s (120 s: past the create timeout, inside the settle window).
Not scaled: the state machine waits 30 s before looking again after JobCreatePending (ASL), so a run
whose create got no answer takes about half a minute longer.

When every run has ended it checks and prints: runs started and succeeded (all of them); from the
emulator's own job list, grouped by the run id in each job's metadata, exactly one job per run that
trained (any other job of the run cancelled before it started training); no file with purpose
fine-tune left at the emulator (counted when the last run ends, and again once every stalled request
has landed); no 5xx the emulator did not inject, no 5xx from the labeltune API; the faults injected by
kind and by endpoint, the stalled creates, the state machine's retries, wall time, per-run p50/max.

Everything runs on this machine (loopback only): moto runs the real state machine against the real
handlers in process (functions serialised by one lock), OpenAI is the emulator. The numbers describe
the local stack, not AWS or OpenAI. With the same seed the emulator draws the same fault sequence for
the same sequence of requests; concurrent runs interleave their requests differently from one
execution to the next, so counts vary a little between executions of the same seed.

    .venv/bin/python benchmarks/bench_faults.py [--runs 20] [--seed 7] [--wave 5]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from labeltune.adapters.openai_provider import FILE_PURPOSE, RUN_ID_METADATA_KEY
from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions
from labeltune_tools.emulator import FaultPlan
from labeltune_tools.emulator.faults import InjectedFault, Stall
from labeltune_tools.emulator.state import EmulatorState

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"

# Deployed values and the scaled-down ones the benchmark runs with (all divided by 15).
CLIENT_TIMEOUT_SECONDS = 2.0  # PROVIDER_TIMEOUT_SECONDS: 30 s deployed
CREATE_TIMEOUT_SECONDS = 2 * CLIENT_TIMEOUT_SECONDS  # what the provider gives jobs.create (wiring.py)
SETTLE_SECONDS = 12  # JOB_CREATE_SETTLE_SECONDS: 180 s deployed
RANDOM_STALL_SECONDS = 5.0  # 75 s: longer than every client timeout, creates' included
CREATE_STALL_SECONDS = 8.0  # 120 s: longer than the create timeout, shorter than the settle window
ERROR_RATE = 0.15
ERROR_STATUSES = (429, 500, 503)
STALL_RATE = 0.05
CREATE_PATH = "/v1/fine_tuning/jobs"
RUNS_PER_STALLED_CREATE = 5
RUN_TIMEOUT_SECONDS = 900.0

assert CLIENT_TIMEOUT_SECONDS < RANDOM_STALL_SECONDS and CREATE_TIMEOUT_SECONDS < RANDOM_STALL_SECONDS
assert CREATE_TIMEOUT_SECONDS < CREATE_STALL_SECONDS < SETTLE_SECONDS

_ID_SEGMENT = re.compile(r"/(file-|ftjob-|ft:)[^/]+")


def endpoint(method: str, path: str) -> str:
    """`POST /v1/fine_tuning/jobs/{id}/cancel`: the path with its ids replaced."""
    return f"{method.upper()} {_ID_SEGMENT.sub('/{id}', path)}"


class CountingFaultPlan(FaultPlan):
    """A FaultPlan that also tallies every request it decided on and every fault it served, per endpoint."""

    requests: Counter[str]
    served: Counter[tuple[str, str]]  # (kind, endpoint)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.requests = Counter()
        self.served = Counter()
        self._tally_lock = threading.Lock()

    def decide(self, method: str, path: str) -> InjectedFault | Stall | None:
        fault = super().decide(method, path)
        where = endpoint(method, path)
        with self._tally_lock:
            self.requests[where] += 1
            if isinstance(fault, Stall):
                planned = fault.seconds == CREATE_STALL_SECONDS
                self.served[("planned create stall" if planned else "random stall", where)] += 1
            elif fault is not None:
                self.served[(f"HTTP {fault.status}", where)] += 1
        return fault

    def kinds(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (kind, _), n in self.served.items():
            totals[kind] += n
        return totals


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_project(stack: EmbeddedStack, project: str) -> int:
    """The sample export's rows refiled under `project` (as tests/e2e new_project does); the PUT's status."""
    assert stack.resources is not None
    records = [json.loads(line) for line in EXPORT.read_text().splitlines() if line.strip()]
    for record in records:
        record["projects"] = {project: next(iter(record["projects"].values()))}
    stack.client("s3").put_object(
        Bucket=stack.resources.bucket_name,
        Key=f"exports/{project}.ndjson",
        Body="\n".join(json.dumps(r) for r in records).encode(),
    )
    stack.webhook_secret(project)
    status, _ = http("PUT", f"{stack.api_url}/projects/{project}", b"{}", {"Content-Type": "application/json"})
    return status


def emulator_jobs(state: EmulatorState) -> list[dict[str, Any]]:
    """Every job the emulator holds (all pages of its own listing), oldest first."""
    jobs: list[dict[str, Any]] = []
    after = None
    while True:
        page = state.list_jobs(after=after, limit=100, metadata=None, null_metadata=False)
        jobs += page["data"]
        if not page["has_more"]:
            return list(reversed(jobs))
        after = page["data"][-1]["id"]


def started_training(state: EmulatorState, job_id: str) -> bool:
    """Whether the job ever reached `running` (its events say so)."""
    events = state.list_events(job_id, after=None, limit=100)["data"]
    return any(event["message"] == "Fine-tuning job started" for event in events)


def step_retries(stack: EmbeddedStack, execution_arn: str) -> Counter[str]:
    """The errors of the failed Lambda attempts the state machine retried or caught, by error name."""
    sfn = stack.client("stepfunctions")
    errors: Counter[str] = Counter()
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        for event in page["events"]:
            if event["type"] == "LambdaFunctionFailed":
                errors[event["lambdaFunctionFailedEventDetails"].get("error", "?")] += 1
        if not page.get("nextToken"):
            return errors
        kwargs["nextToken"] = page["nextToken"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--wave", type=int, default=5, help="runs started together (concurrently)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--job-duration", type=float, default=3.0, help="emulated training time (s)")
    args = parser.parse_args()
    if args.runs < 1 or args.wave < 1:
        parser.error("--runs and --wave must be at least 1")

    plan = CountingFaultPlan(
        error_rate=ERROR_RATE,
        error_statuses=ERROR_STATUSES,
        stall_rate=STALL_RATE,
        stall_seconds=RANDOM_STALL_SECONDS,
        seed=args.seed,
    )
    options = StackOptions(
        fallback_check_seconds=5,
        job_duration_seconds=args.job_duration,
        function_environment={
            "PROVIDER_TIMEOUT_SECONDS": f"{CLIENT_TIMEOUT_SECONDS:g}",
            "JOB_CREATE_SETTLE_SECONDS": str(SETTLE_SECONDS),
        },
    )
    waves = math.ceil(args.runs / args.wave)
    planned = 0  # stalled creates queued
    api_statuses: Counter[int] = Counter()
    run_ids: list[str] = []
    executions: dict[str, dict[str, Any]] = {}
    with EmbeddedStack(options=options) as stack:
        assert stack.emulator is not None and stack.resources is not None
        for name, variables in stack.resources.function_environment.items():  # the scaling reached every function
            if any(variables.get(key) != value for key, value in options.function_environment.items()):
                raise SystemExit(f"{name} did not get {options.function_environment}")
        emulator = stack.emulator
        emulator.faults = plan
        started = time.perf_counter()
        for wave in range(waves):
            size = min(args.wave, args.runs - wave * args.wave)
            stalls = math.ceil(size / RUNS_PER_STALLED_CREATE)
            planned += stalls
            plan.stall_next(stalls, seconds=CREATE_STALL_SECONDS, path_prefix=CREATE_PATH, method="POST")
            projects = [f"bench-faults-s{args.seed}-r{wave * args.wave + i:03d}" for i in range(size)]
            for project in projects:
                api_statuses[new_project(stack, project)] += 1
            wave_runs = []
            for project in projects:
                status, body = http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}")
                api_statuses[status] += 1
                if status == 202:
                    wave_runs.append(str(body["run_id"]))
            for run_id in wave_runs:
                executions[run_id] = stack.wait_for_execution(run_id, timeout=RUN_TIMEOUT_SECONDS)
            run_ids += wave_runs
            print(
                f"wave {wave + 1}/{waves}: {len(wave_runs)} runs, "
                f"{sum(executions[r]['status'] == 'SUCCEEDED' for r in wave_runs)} succeeded, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        wall = time.perf_counter() - started

        files_at_end = emulator.files(purpose=FILE_PURPOSE)
        time.sleep(CREATE_STALL_SECONDS + 1)  # every request stalled before the last run ended has landed now
        files_later = emulator.files(purpose=FILE_PURPOSE)
        records = {run_id: stack.get_run(run_id) or {} for run_id in run_ids}
        retries = {run_id: step_retries(stack, executions[run_id]["executionArn"]) for run_id in run_ids}
        jobs = emulator_jobs(emulator.state)
        trained_before_cancel = {job["id"]: started_training(emulator.state, job["id"]) for job in jobs}
        exchanges = emulator.exchanges
        planned_left = plan.pending()

    # -- jobs per run, from the emulator's own list ----------------------------------------------------
    by_run: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
    foreign: list[dict[str, Any]] = []
    for job in jobs:
        owner = str((job.get("metadata") or {}).get(RUN_ID_METADATA_KEY))
        by_run.get(owner, foreign).append(job)
    one_trained, extras, extras_early, extras_late, wrong_job = 0, 0, 0, 0, []
    for run_id, run_jobs in by_run.items():
        succeeded = [job for job in run_jobs if job["status"] == "succeeded"]
        others = [job for job in run_jobs if job["status"] != "succeeded"]
        extras += len(others)
        early = [job for job in others if job["status"] == "cancelled" and not trained_before_cancel[job["id"]]]
        extras_early += len(early)
        extras_late += len(others) - len(early)
        if len(succeeded) == 1 and len(early) == len(others):
            one_trained += 1
        if len(succeeded) != 1 or records[run_id].get("job_id") != succeeded[0]["id"]:
            wrong_job.append(run_id)

    # -- runs --------------------------------------------------------------------------------------------
    succeeded_runs = [
        r for r in run_ids if executions[r]["status"] == "SUCCEEDED" and records[r].get("status") == "SUCCEEDED"
    ]
    durations = sorted((e["stopDate"] - e["startDate"]).total_seconds() for e in executions.values())
    cleanup_errors = {r: rec["cleanup_error"] for r, rec in records.items() if rec.get("cleanup_error")}
    all_retries: Counter[str] = sum(retries.values(), Counter())
    fenced_runs = sum(1 for c in retries.values() if c.get("JobCreatePending"))

    # -- faults --------------------------------------------------------------------------------------
    kinds = plan.kinds()
    requests = sum(plan.requests.values())
    injected = sum(kinds.values())
    random_faults = injected - kinds["planned create stall"]
    errors = {kind: n for kind, n in sorted(kinds.items()) if kind.startswith("HTTP")}
    create = endpoint("POST", CREATE_PATH)
    planned_stalls = {where: n for (kind, where), n in plan.served.items() if kind == "planned create stall"}
    random_create_stalls = plan.served[("random stall", create)]
    injected_5xx = sum(n for kind, n in kinds.items() if kind in ("HTTP 500", "HTTP 503"))
    emulator_5xx = sum(1 for exchange in exchanges if exchange.status >= 500) - injected_5xx
    api_5xx = sum(n for status, n in api_statuses.items() if status >= 500)
    not_injected_4xx = Counter(
        f"{exchange.status} {endpoint(exchange.method, exchange.path)}"
        for exchange in exchanges
        if 400 <= exchange.status < 500 and exchange.status != 429
    )

    def fmt(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"

    print()
    for run_id in run_ids:
        execution, record = executions[run_id], records[run_id]
        seconds = (execution["stopDate"] - execution["startDate"]).total_seconds()
        print(
            f"  {run_id} {record.get('project_id')}: {execution['status']} in {seconds:5.1f} s, "
            f"jobs {[job['status'] for job in by_run[run_id]]}, "
            f"files deleted {record.get('provider_files_deleted')}, "
            f"retried {fmt(dict(sorted(retries[run_id].items())))}"
        )
    print(
        f"fault benchmark: {args.runs} runs in {waves} waves of up to {args.wave} (the runs of a wave concurrent, "
        f"one project each), seed {args.seed}, emulated training {args.job_duration:g} s, poll interval 1 s"
    )
    print(
        f"scaled timeouts: PROVIDER_TIMEOUT_SECONDS {CLIENT_TIMEOUT_SECONDS:g} s "
        f"(creates {CREATE_TIMEOUT_SECONDS:g} s), JOB_CREATE_SETTLE_SECONDS {SETTLE_SECONDS} s "
        "(deployed: 30, 60, 180 s)"
    )
    print(
        f"fault plan: {ERROR_RATE:.0%} errors ({'/'.join(map(str, ERROR_STATUSES))}), "
        f"{STALL_RATE:.0%} stalls of {RANDOM_STALL_SECONDS:g} s, one create stalled {CREATE_STALL_SECONDS:g} s "
        f"per {RUNS_PER_STALLED_CREATE} runs"
    )
    print(f"runs started: {len(run_ids)}")
    print(f"runs succeeded: {len(succeeded_runs)} of {args.runs}")
    print(
        f"fine-tuning jobs at the emulator: {len(jobs)} for {len(run_ids)} runs; runs with exactly one job that "
        f"trained: {one_trained}; extras: {extras} (cancelled before training: {extras_early}, "
        f"trained or not cancelled: {extras_late}); jobs of no run: {len(foreign)}"
    )
    print(
        f"files with purpose {FILE_PURPOSE} left at the emulator: {len(files_at_end)} when the last run ended, "
        f"{len(files_later)} once every stalled request had landed ({CREATE_STALL_SECONDS + 1:g} s later)"
    )
    print(
        f"OpenAI requests: {requests}; faults injected: {injected} ({injected / max(1, requests):.1%}), "
        f"random ones {random_faults} ({random_faults / max(1, requests - kinds['planned create stall']):.1%})"
    )
    print(
        f"  errors by status: {fmt(errors)}; stalls: random {kinds['random stall']} "
        f"({RANDOM_STALL_SECONDS:g} s), planned create stalls {kinds['planned create stall']} "
        f"({CREATE_STALL_SECONDS:g} s)"
    )
    by_endpoint: dict[str, Counter[str]] = {}
    for (kind, where), n in plan.served.items():
        by_endpoint.setdefault(where, Counter())[kind] += n
    for where in sorted(plan.requests, key=lambda w: -plan.requests[w]):
        faults = by_endpoint.get(where, Counter())
        print(f"    {where:<40} {plan.requests[where]:>5} requests  {fmt(dict(sorted(faults.items())))}")
    print(
        f"stalled creates: {sum(planned_stalls.values())} planned ({fmt(planned_stalls)}), "
        f"{random_create_stalls} random; runs that waited on the settle fence (JobCreatePending): {fenced_runs}"
    )
    print(f"state machine retries (failed Lambda attempts): {fmt(dict(sorted(all_retries.items())))}")
    print(f"emulator 4xx it was asked for (not injected): {fmt(dict(sorted(not_injected_4xx.items())))}")
    statuses = fmt({str(status): n for status, n in sorted(api_statuses.items())})
    print(f"emulator 5xx not injected: {emulator_5xx}; labeltune API statuses: {statuses}")
    if cleanup_errors:
        print(f"cleanup errors recorded on runs: {cleanup_errors}")
    print(
        f"wall time: {wall:.1f} s; per-run duration p50 {statistics.median(durations):.1f} s, "
        f"max {durations[-1]:.1f} s, min {durations[0]:.1f} s"
    )
    checks = {
        f"all {args.runs} runs started": len(run_ids) == args.runs,
        f"all {args.runs} runs succeeded": len(succeeded_runs) == args.runs,
        "exactly one job trained per run, and it is the run's job": one_trained == len(run_ids) and not wrong_job,
        "every extra job cancelled before it trained": extras_late == 0,
        "no job without a run": not foreign,
        "no fine-tune file left at the emulator": not files_at_end and not files_later,
        f"one stalled create per {RUNS_PER_STALLED_CREATE} runs ({planned})": planned_stalls == {create: planned}
        and planned_left == 0,
        "no 5xx the emulator did not inject": emulator_5xx == 0,
        "no 5xx from the labeltune API": api_5xx == 0,
        "no cleanup error recorded": not cleanup_errors,
    }
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    failed = [r for r in run_ids if r not in succeeded_runs] + wrong_job
    for run_id in dict.fromkeys(failed):
        record = records[run_id]
        print(
            f"  run {run_id}: {executions[run_id]['status']}, error {record.get('error')}: "
            f"{record.get('error_message')}; jobs {[(j['id'], j['status']) for j in by_run[run_id]]}"
        )
    print("(local stack: moto + in-process handlers + the OpenAI emulator, scaled-down timeouts; not AWS or OpenAI)")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
