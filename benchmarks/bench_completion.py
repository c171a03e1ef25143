"""Completion by event, measured on the local stack from the execution history.

For each provider (OpenAI: the emulator's signed webhook to POST /webhooks/openai; Bedrock: the emulator's
EventBridge event to the JobEnded rule's function) a run trains for `--job-hours` scaled hours of
`--hour-seconds` each; the fallback check is scaled the same way (FallbackCheckSeconds' default, 1800 s an
hour). The job's length is deliberately not a multiple of the fallback interval, so a run whose events are
dropped shows what the fallback costs. It prints:

- state transitions per training hour: the states entered from the first AwaitFineTune to ServeTunedModel,
  over the hours trained (target <= 6; polling every 300 s took 3 states per poll, 36 an hour);
- reaction: from the moment the provider's job finished (the OpenAI emulator's own finish time, Bedrock's
  `endTime`) to ServeTunedModel entered, the state after the wait (target <= 10 s; polling took up to the poll
  interval); and to PlanEvaluation, the evaluation's first step (Bedrock's adds its deployment's own wait);
- the same runs with every event dropped: the fallback check still finishes them.

moto's engine and the emulators run in this process: the times are the local stack's, not AWS's.

    .venv/bin/python benchmarks/bench_completion.py [--hour-seconds 24] [--job-hours 1.3] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"
MAX_TRANSITIONS_PER_HOUR = 6
MAX_REACTION_SECONDS = 10.0
FALLBACK_SHARE = 1800 / 3600  # the template's default fallback, per hour of training


@dataclass
class Measured:
    provider: str
    dropped: bool
    status: str
    transitions: int
    trained_seconds: float
    to_serve: float | None
    to_evaluate: float | None
    waits: int

    def per_hour(self, hour_seconds: float) -> float:
        return self.transitions / (self.trained_seconds / hour_seconds)


def project_for(stack: EmbeddedStack, provider: str) -> str:
    """A project of its own with the sample export's rows filed under it."""
    project = f"bench-{provider}-{uuid.uuid4().hex[:8]}"
    records = [json.loads(line) for line in EXPORT.read_text().splitlines()]
    for record in records:
        record["projects"] = {project: next(iter(record["projects"].values()))}
    assert stack.resources is not None
    body = "\n".join(json.dumps(r) for r in records).encode()
    stack.client("s3").put_object(Bucket=stack.resources.bucket_name, Key=f"exports/{project}.ndjson", Body=body)
    stack.configure_project(project, {"provider": provider})
    return project


def start_run(stack: EmbeddedStack, project: str) -> str:
    request = urllib.request.Request(
        f"{stack.api_url}/projects/{project}/runs",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["run_id"])


OPENAI_FINISHED: dict[str, float] = {}  # job id -> when the OpenAI emulator finished it (before its webhook)


def record_openai_finishes(stack: EmbeddedStack) -> None:
    """The emulator reports each job's end (with the time it was due) before it sends the webhook."""
    assert stack.emulator is not None
    state = stack.emulator.state
    notify = state.on_job_finished

    def recorded(job_id: str, status: str, at: float) -> None:
        OPENAI_FINISHED[job_id] = at
        if notify is not None:
            notify(job_id, status, at)

    state.on_job_finished = recorded


def job_finished_at(stack: EmbeddedStack, provider: str, job_id: str) -> float | None:
    if provider == "openai":
        return OPENAI_FINISHED.get(job_id)
    assert stack.bedrock is not None
    end = stack.bedrock.client("bedrock").get_model_customization_job(jobIdentifier=job_id).get("endTime")
    return _epoch(end) if end is not None else None


def history(stack: EmbeddedStack, execution_arn: str) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    events, token = [], None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def measure(stack: EmbeddedStack, provider: str, project: str, dropped: bool) -> Measured:
    stack.drop_provider_events(dropped)
    try:
        run_id = start_run(stack, project)
        execution = stack.wait_for_execution(run_id, timeout=600)
    finally:
        stack.drop_provider_events(False)
    entered = [
        (e["stateEnteredEventDetails"]["name"], _epoch(e["timestamp"]))
        for e in history(stack, execution["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    names = [name for name, _ in entered]
    first_wait = names.index("AwaitFineTune")
    serve = names.index("ServeTunedModel") if "ServeTunedModel" in names else len(names)
    wait_started = entered[first_wait][1]
    finished = job_finished_at(stack, provider, str((stack.get_run(run_id) or {}).get("job_id")))
    at = dict(reversed(entered))  # the first time each state was entered
    return Measured(
        provider=provider,
        dropped=dropped,
        status=execution["status"],
        transitions=serve - first_wait,
        trained_seconds=(finished or time.time()) - wait_started,
        to_serve=at["ServeTunedModel"] - finished if finished and "ServeTunedModel" in at else None,
        to_evaluate=at["PlanEvaluation"] - finished if finished and "PlanEvaluation" in at else None,
        waits=names[first_wait:serve].count("AwaitFineTune"),
    )


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour-seconds", type=float, default=24.0, help="one scaled hour of training, in seconds")
    parser.add_argument("--job-hours", type=float, default=1.3, help="how many scaled hours a job trains")
    parser.add_argument("--repeat", type=int, default=2, help="runs per provider with events delivered")
    args = parser.parse_args()
    hour = args.hour_seconds
    job = hour * args.job_hours
    fallback = max(1, round(hour * FALLBACK_SHARE))
    options = StackOptions(
        job_duration_seconds=job, bedrock_job_seconds=job, fallback_check_seconds=fallback, default_provider="openai"
    )
    print(
        f"local stack: one training hour = {hour:g} s, jobs train {job:g} s, "
        f"fallback check every {fallback} s (1800 s scaled)"
    )
    results: list[Measured] = []
    with EmbeddedStack(options=options) as stack:
        record_openai_finishes(stack)
        for provider in ("openai", "bedrock"):
            project = project_for(stack, provider)
            for dropped in [False] * args.repeat + [True]:
                results.append(measure(stack, provider, project, dropped))
                print(_line(results[-1], hour), flush=True)
    delivered = [r for r in results if not r.dropped]
    failed = [r for r in results if r.status != "SUCCEEDED"]
    worst_rate = max(r.per_hour(hour) for r in delivered)
    worst_reaction = max(r.to_serve if r.to_serve is not None else float("inf") for r in delivered)
    print(
        f"\nworst with events: {worst_rate:.1f} transitions per training hour (target <= {MAX_TRANSITIONS_PER_HOUR}; "
        f"polling every 300 s: 36), {worst_reaction:.2f} s from the job finishing to the next step "
        f"(target <= {MAX_REACTION_SECONDS:g} s); with events dropped: "
        f"{'all finished' if not [r for r in failed if r.dropped] else 'NOT all finished'} by the fallback check"
    )
    ok = not failed and worst_rate <= MAX_TRANSITIONS_PER_HOUR and worst_reaction <= MAX_REACTION_SECONDS
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def _line(r: Measured, hour: float) -> str:
    serve = f"{r.to_serve:.2f} s" if r.to_serve is not None else "-"
    evaluate = f"{r.to_evaluate:.2f} s" if r.to_evaluate is not None else "-"
    events = "events dropped  " if r.dropped else "events delivered"
    return (
        f"{r.provider:<8} {events} {r.status:<9} {r.transitions} transitions in {r.trained_seconds:.1f} s "
        f"({r.per_hour(hour):.1f}/training hour, {r.waits} wait(s)); job finished -> ServeTunedModel {serve}, "
        f"-> PlanEvaluation {evaluate}"
    )


if __name__ == "__main__":
    sys.exit(main())
