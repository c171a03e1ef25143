"""`labeltune demo`: the whole pipeline on the local stack, from a signed Labelbox webhook, for one provider or
for OpenAI and Amazon Bedrock side by side (two projects on one stack, their runs going at the same time)."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from labeltune.domain.signature import sign
from labeltune_tools.embedded.keep import REPORT, describe_files, keep_run
from labeltune_tools.embedded.progress import RunProgress, progress_lines
from labeltune_tools.embedded.stack import EMULATED, EmbeddedStack, StackOptions

DEFAULT_PROJECT = "clx-support-summaries-demo"
PROVIDERS = ("openai", "bedrock")
PROVIDER_CHOICES = (*PROVIDERS, "both")
# How each provider's service is named in `StackOptions.emulated()` (its keys start with these).
PROVIDER_SERVICES = {"openai": "OpenAI API", "bedrock": "Amazon Bedrock"}
# Widest cell of the side-by-side table: ARNs are shortened there (each run's report above has them whole).
CELL_WIDTH = 44
# How often the demo polls each run's execution history for progress (each poll: three calls to moto).
POLL_SECONDS = 0.5


def send_labelbox_webhook(
    api_url: str, secret: str, project_id: str, topic: str = "WORKFLOW_ACTION"
) -> tuple[int, dict]:
    """POST a v1-shaped Labelbox webhook, signed the way Labelbox signs it."""
    body = json.dumps(
        {
            "id": f"demo-label-{uuid.uuid4().hex[:12]}",
            "label": "{}",
            "dataRow": {"id": f"demo-row-{uuid.uuid4().hex[:12]}"},
            "project": {"id": project_id},
            "event": topic,
        }
    ).encode()
    request = urllib.request.Request(
        f"{api_url}/webhooks/labelbox",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(secret, body, "sha256"),
            "X-Labelbox-Id": f"demo-delivery-{uuid.uuid4().hex[:12]}",
            "X-Labelbox-Event": topic,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _metrics_table(run: dict[str, Any]) -> list[str]:
    base, tuned = run.get("base_metrics") or {}, run.get("tuned_metrics") or {}
    rows = [
        ("model", base.get("model", "-"), tuned.get("model", "-")),
        ("examples", base.get("examples", "-"), tuned.get("examples", "-")),
        ("ROUGE-L (mean F)", base.get("rouge_l", "-"), tuned.get("rouge_l", "-")),
        ("PII leak rate", base.get("leak_rate", "-"), tuned.get("leak_rate", "-")),
        ("leaks by type", json.dumps(base.get("leaks_by_type", {})), json.dumps(tuned.get("leaks_by_type", {}))),
        ("errors", base.get("errors", "-"), tuned.get("errors", "-")),
    ]
    return [f"    {name:<18} {b!s:<44} {t!s}" for name, b, t in rows]


def report(stack: EmbeddedStack, run_id: str, execution: dict[str, Any], out: TextIO) -> None:
    run = stack.get_run(run_id) or {}
    write = lambda line="": print(line, file=out)  # noqa: E731
    write(f"\nExecution {execution['status']}: {run_id}")
    write("  states visited: " + " -> ".join(stack.states_visited(execution["executionArn"])))
    write(f"  run status:     {run.get('status')}")
    write(
        f"  dataset:        {run.get('rows_read')} rows read -> {run.get('train_examples')} train, "
        f"{run.get('validation_examples')} validation, {run.get('eval_examples')} held-out eval, "
        f"{run.get('rejected_rows')} rejected {json.dumps(run.get('rejected_by_reason', {}))}"
    )
    if run.get("train_tokens") is not None:
        write(
            f"  tokens:         {run.get('train_tokens')} training tokens, ~{run.get('billable_tokens_estimate')} "
            f"billable, estimated cost {_cost(run.get('estimated_cost_usd'))} (price table, not a bill)"
        )
    write(f"  fine-tune job:  {run.get('job_id')} ({run.get('job_status')}), base model {run.get('base_model')}")
    write(f"  tuned model:    {run.get('fine_tuned_model')}")
    if run.get("error"):
        write(f"  error:          {run.get('error')}: {run.get('error_message')}")
    if run.get("base_metrics"):
        write("  evaluation on the held-out set (base vs fine-tuned):")
        for line in _metrics_table(run):
            write(line)
        verdict = "passed" if run.get("evaluation_passed") else "did NOT pass"
        findings = "; ".join(run.get("evaluation_findings") or []) or "all thresholds met"
        write(f"  thresholds:     tuned model {verdict} the project's evaluation thresholds ({findings})")
    gate = run.get("gate")
    if isinstance(gate, dict):
        reasons = "; ".join(gate.get("failures") or []) or "every check passed"
        promoted = ", promoted to the project's current model" if run.get("promoted_at") else ""
        write(f"  gate:           {'passed' if gate.get('passed') else 'did NOT pass'} ({reasons}){promoted}")
    write(f"  dataset files:  {run.get('dataset_uri')}")
    write(f"  per-example evaluation: {run.get('evaluation_uri')}")
    write(f"  run record:     DynamoDB table {stack.resources.table_name if stack.resources else '?'}, run_id={run_id}")


def save_report(
    api_url: str, run_id: str, run: Mapping[str, Any], directory: Path, filename: str | None = None
) -> tuple[Path | None, str]:
    """Fetch the run's report as a reader would (GET /runs/{id}/report answers 302 to a presigned link, which
    urllib follows to the local S3) and write it to `directory` as `filename` (default
    labeltune-report-<run id>.html); the file, or None and why there is none."""
    if not run.get("report_key"):
        return None, f"not written ({run.get('report_error') or 'the run has no evaluation'})"
    try:
        with urllib.request.urlopen(f"{api_url}/runs/{run_id}/report", timeout=30) as response:
            page = response.read()
    except (urllib.error.URLError, OSError) as error:
        return None, f"could not be fetched ({type(error).__name__}: {error})"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (filename or f"labeltune-report-{run_id}.html")
    path.write_bytes(page)
    return path, str(path.resolve())


# -- several runs side by side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """One provider's run as the demo saw it: enough to compare runs and to say which one failed and why."""

    provider: str
    project_id: str
    service: str  # how the provider's service ran: StackOptions.emulated()'s words for it
    run_id: str | None = None
    status: str = "NOT STARTED"  # the execution's status, or NOT STARTED / TIMED OUT
    run: Mapping[str, Any] = field(default_factory=dict)  # the run record
    seconds: float | None = None  # wall time, webhook accepted to execution ended
    states: int | None = None  # states the execution entered
    problem: str | None = None  # why the run did not start or was not waited for to its end

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def emulated(self) -> bool:
        return not self.service.startswith("REAL")

    def failure(self) -> str:
        """Why it did not succeed, in one line ("" when it did)."""
        if self.succeeded:
            return ""
        reasons = [self.problem or ""]
        if self.run.get("error"):
            reasons.append(f"{self.run.get('error')}: {self.run.get('error_message')}")
        return "; ".join(reason for reason in reasons if reason) or f"execution {self.status}"


def provider_service(services: Mapping[str, str], provider: str) -> str:
    """What `services` (StackOptions.emulated()) says runs the provider, so each column says it itself."""
    prefix = PROVIDER_SERVICES[provider]
    return next((how for name, how in services.items() if name.startswith(prefix)), "not listed as emulated or real")


def _short(value: Any, width: int = CELL_WIDTH) -> str:
    """A table cell: "-" for nothing, long ids cut in the middle (their ends tell them apart)."""
    text = "-" if value is None or value == "" else str(value)
    if len(text) <= width:
        return text
    keep = width - 3
    return text[: keep // 2] + "..." + text[len(text) - (keep - keep // 2) :]


def _cost(value: Any) -> str:
    return "no price in the table" if value is None else f"{value} USD"


def _metric(metrics: Any, name: str) -> Any:
    return metrics.get(name) if isinstance(metrics, Mapping) else None


def _pair(base: Any, tuned: Any) -> str:
    return "-" if base is None and tuned is None else f"{_short(base, 12)} -> {_short(tuned, 12)}"


def comparison_rows(outcome: RunOutcome) -> list[tuple[str, str]]:
    """One column of the side-by-side table: (row name, cell), in the table's order."""
    run, base, tuned = outcome.run, outcome.run.get("base_metrics"), outcome.run.get("tuned_metrics")
    errors = None
    if base is not None or tuned is not None:
        errors = f"{_short(_metric(base, 'errors'), 12)} / {_short(_metric(tuned, 'errors'), 12)}"
    return [
        ("provider", outcome.provider),
        ("service", "EMULATED" if outcome.emulated else outcome.service),
        ("project", outcome.project_id),
        ("result", outcome.status),
        ("base model", _short(run.get("base_model"))),
        ("tuned model", _short(run.get("fine_tuned_model"))),
        ("job status", _short(run.get("job_status"))),
        ("training tokens", _short(run.get("train_tokens"))),
        ("estimated cost", "-" if not run else _cost(run.get("estimated_cost_usd"))),
        ("ROUGE-L base -> tuned", _pair(_metric(base, "rouge_l"), _metric(tuned, "rouge_l"))),
        ("leak rate base -> tuned", _pair(_metric(base, "leak_rate"), _metric(tuned, "leak_rate"))),
        ("errors base / tuned", _short(errors)),
        ("wall time", "-" if outcome.seconds is None else f"{outcome.seconds:.1f} s"),
        ("states visited", _short(outcome.states)),
        ("failure", _short(outcome.failure(), 2 * CELL_WIDTH) if not outcome.succeeded else "-"),
    ]


def comparison_table(outcomes: Sequence[RunOutcome]) -> list[str]:
    """The runs side by side, one column each, as lines of text (no stack needed: tested as it is)."""
    columns = [comparison_rows(outcome) for outcome in outcomes]
    if not columns:
        return []
    names = [name for name, _ in columns[0]]
    name_width = max(len(name) for name in names)
    widths = [max(len(cell) for _, cell in column) for column in columns]
    lines = []
    for index, name in enumerate(names):
        cells = [column[index][1].ljust(width) for column, width in zip(columns, widths, strict=True)]
        lines.append(f"  {name:<{name_width}} | " + " | ".join(cells).rstrip())
        if index == 0:
            lines.append(f"  {'-' * name_width}-+-" + "-+-".join("-" * width for width in widths))
    return lines


def result_lines(outcomes: Sequence[RunOutcome]) -> list[str]:
    """The closing verdict: which runs succeeded, which did not and why, and whether results are emulated."""
    failed = [outcome for outcome in outcomes if not outcome.succeeded]
    emulated = [outcome.provider for outcome in outcomes if outcome.emulated]
    if not emulated:
        where = "on real services"
    elif len(emulated) == len(outcomes):
        where = "on emulated services"
    else:
        where = f"partly on real services; {', '.join(emulated)} emulated"
    if not failed:
        what = "run succeeded" if len(outcomes) == 1 else f"all {len(outcomes)} runs succeeded"
        return [f"RESULT: {what} ({where})"]
    lines = [f"RESULT: {len(failed)} of {len(outcomes)} run(s) did NOT succeed ({where}):"]
    lines += [f"  {outcome.provider} (project {outcome.project_id}): {outcome.failure()}" for outcome in failed]
    return lines


def exit_status(outcomes: Sequence[RunOutcome]) -> int:
    """0 only when there were runs and every one succeeded."""
    return 0 if outcomes and all(outcome.succeeded for outcome in outcomes) else 1


# -- the demo ---------------------------------------------------------------------------------------------


def providers_for(choice: str) -> tuple[str, ...]:
    """--provider's value as the providers to run, in column order."""
    if choice == "both":
        return PROVIDERS
    if choice in PROVIDERS:
        return (choice,)
    raise ValueError(f"provider must be one of {', '.join(PROVIDER_CHOICES)}, not {choice!r}")


def refile_export(export_file: Path, source_project: str, project_id: str, target: Path) -> None:
    """Copy the export with each row's entry for `source_project` also filed under `project_id`: the dataset
    builder reads only the entry of the project it builds, and each provider's run has a project of its own.
    Lines that are not JSON objects are copied as they are (the builder counts them as it would have)."""
    with export_file.open(encoding="utf-8") as source, target.open("w", encoding="utf-8") as copy:
        for line in source:
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            projects = record.get("projects") if isinstance(record, dict) else None
            if not isinstance(projects, dict) or source_project not in projects:
                copy.write(line)
                continue
            projects[project_id] = projects[source_project]
            copy.write(json.dumps(record) + "\n")


def _header(options: StackOptions, providers: Sequence[str], out: TextIO) -> dict[str, str]:
    """Say first what is emulated: the numbers that follow measure stand-ins unless a service is REAL."""
    services = options.emulated()
    all_emulated = services == EMULATED
    print(
        "labeltune demo - LOCAL STACK: "
        + (
            "every outside service is emulated; the numbers are not real model quality."
            if all_emulated
            else "some services are REAL (see below); AWS is still emulated by moto."
        ),
        file=out,
    )
    for service, how in services.items():
        print(f"  {service}: {how}", file=out)
    for provider in providers:
        how = provider_service(services, provider)
        print(f"  the {provider} run: " + (how if how.startswith("REAL") else f"EMULATED - {how}"), file=out)
    return services


def _prepare_project(
    stack: EmbeddedStack, export_file: Path, source_project: str, project_id: str, provider: str, out: TextIO
) -> str | None:
    """Give the project the export and its provider; the reason it cannot run, or None."""
    if not stack.options.labelbox_api_key:
        if project_id == source_project:
            uri = stack.upload_export(project_id, export_file)
            print(f"Labelbox export stand-in: {export_file} -> {uri}", file=out)
        else:
            with tempfile.TemporaryDirectory(prefix="labeltune-demo-") as directory:
                copy = Path(directory) / f"{project_id}.ndjson"
                refile_export(export_file, source_project, project_id, copy)
                uri = stack.upload_export(project_id, copy)
            print(f"Labelbox export stand-in: {export_file} (rows of {source_project}) -> {uri}", file=out)
    try:
        config = stack.configure_project(project_id, {"provider": provider})["config"]
    except urllib.error.HTTPError as error:
        detail = " ".join((error.read() or b"").decode("utf-8", "replace").split())
        print(f"PUT /projects/{project_id} -> {error.code} {detail}", file=out)
        return f"PUT /projects/{project_id} answered {error.code}: {detail}"
    print(
        f"PUT /projects/{project_id} -> provider {config['provider']}, base model {config['base_model']}, "
        f"{config['min_new_labels']} approval(s) start a run",
        file=out,
    )
    return None


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's whole history so far, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def watch_runs(
    stack: EmbeddedStack,
    started: Mapping[str, tuple[str, float]],
    timeouts: Mapping[str, float],
    out: TextIO,
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, tuple[dict[str, Any] | None, float]]:
    """Poll every started run's execution, history and run record until each ends (or outlives its timeout),
    printing each one's progress as it goes (progress.progress_lines); per run, the ended execution (None
    when it outlived its timeout) and the wall time since its webhook."""
    from labeltune.adapters.dynamodb_runs import DynamoRunStore

    assert stack.resources is not None
    session = stack.client_session()  # one client each for every poll: making one costs more than a call
    sfn = session.client("stepfunctions")
    runs = DynamoRunStore(stack.resources.table_name, resource=session.resource("dynamodb"))
    width = max((len(name) for name in started), default=0) + 2
    progress = {name: RunProgress(label=f"[{name}]".ljust(width)) for name in started}
    prefix = stack.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    pending = dict(started)
    ended: dict[str, tuple[dict[str, Any] | None, float]] = {}
    while pending:
        for name, (run_id, at) in list(pending.items()):
            arn = f"{prefix}:{run_id}"
            execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            lines, progress[name] = progress_lines(
                progress[name], _history(sfn, arn), runs.get_run(run_id), datetime.now(UTC)
            )
            for line in lines:
                print(line, file=out, flush=True)
            seconds = time.monotonic() - at
            if execution["status"] != "RUNNING":
                ended[name] = (execution, seconds)
            elif seconds > timeouts[name]:
                ended[name] = (None, seconds)
            else:
                continue
            del pending[name]
        if pending:
            time.sleep(poll_seconds)
    return ended


@dataclass(frozen=True)
class Kept:
    """One run's artefacts as `--keep` left them on disk."""

    directory: Path
    files: tuple[str, ...]
    report: str  # the kept report's path, or why there is none
    problems: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Where the files are and which (names only: the files hold the chats)."""
        lines = [f"kept in {self.directory}: {describe_files(self.files)}"]
        lines += [f"  not kept: {problem}" for problem in self.problems]
        return lines


def _keep(stack: EmbeddedStack, run_id: str, run: Mapping[str, Any], directory: Path) -> Kept:
    """Copy the run's artefacts out of the in-memory stack into directory/<run_id>/ (keep.py)."""
    assert stack.resources is not None
    s3 = stack.client("s3")
    target, files, problems = keep_run(s3, stack.resources.bucket_name, stack.api_url, run_id, directory)
    path, said = save_report(stack.api_url, run_id, run, target, filename=REPORT)
    if path is not None:
        files.append(REPORT)
    else:
        problems.append(f"{REPORT}: {said}")
    return Kept(target, tuple(files), said, tuple(problems))


def run_demo(
    export_file: Path,
    project_id: str,
    out: TextIO,
    options: StackOptions | None = None,
    provider: str = "both",
    report_dir: Path | None = None,
    keep: Path | None = None,
) -> int:
    """Run the pipeline once per provider on one stack; 0 only if every run succeeded.

    With one provider the project is `project_id`; with both, `<project_id>-openai` and `<project_id>-bedrock`,
    each with the export's rows for `project_id`, their webhooks sent together so the runs overlap. Each run's
    HTML report is written to `report_dir` (default: a new directory under the system's temporary directory, so
    the current one is left as it was) as `labeltune-report-<run id>.html`, and its path printed. With `keep`,
    each run's artefacts are copied to keep/<run id>/ before the stack (in memory) exits, the report among
    them (then written to `report_dir` only when one is given too), and where is printed at the end.
    """
    options = options or StackOptions()
    providers = providers_for(provider)
    if options.labelbox_api_key and len(providers) > 1:
        raise ValueError("a real Labelbox project is one project with one provider: choose openai or bedrock")
    services = _header(options, providers, out)
    projects = {name: project_id if len(providers) == 1 else f"{project_id}-{name}" for name in providers}
    outcomes: dict[str, RunOutcome] = {
        name: RunOutcome(name, projects[name], provider_service(services, name)) for name in providers
    }
    kept: dict[str, Kept] = {}
    with EmbeddedStack(options=options) as stack:
        assert stack.emulator is not None and stack.bedrock is not None
        print(
            f"\nStack up: API {stack.api_url}, moto {stack.moto_url}, OpenAI emulator {stack.emulator.base_url}, "
            f"Bedrock emulator {stack.bedrock.endpoint_url}",
            file=out,
        )
        ready = []
        for name in providers:
            problem = _prepare_project(stack, export_file, project_id, projects[name], name, out)
            if problem:
                outcomes[name] = RunOutcome(name, projects[name], outcomes[name].service, problem=problem)
            else:
                ready.append(name)
        # Both webhooks before any wait: the two runs go at the same time on the one stack.
        started: dict[str, tuple[str, float]] = {}
        for name in ready:
            project = projects[name]
            status, body = send_labelbox_webhook(stack.api_url, stack.webhook_secret(project), project)
            print(f"POST /webhooks/labelbox (signed, X-Hub-Signature-256) -> {status} {json.dumps(body)}", file=out)
            if status == 202 and body.get("run_id"):
                started[name] = (str(body["run_id"]), time.monotonic())
            else:
                problem = f"the webhook was answered {status} without a run: {json.dumps(body)}"
                outcomes[name] = RunOutcome(name, project, outcomes[name].service, problem=problem)
        # A real fine-tune takes minutes to hours; an emulated one seconds.
        timeouts = {name: 6 * 3600 if not outcomes[name].emulated else 300 for name in started}
        if started:
            print("\nProgress (polled from each execution's history; services as listed above):", file=out, flush=True)
        ended = watch_runs(stack, started, timeouts, out)
        for name in providers:
            if name not in ended:
                continue
            execution, seconds = ended[name]
            run_id = started[name][0]
            print(f"\n=== {name}: project {projects[name]} ===", file=out)
            base = RunOutcome(name, projects[name], outcomes[name].service, run_id=run_id, seconds=seconds)
            if keep is not None:
                kept[name] = _keep(stack, run_id, stack.get_run(run_id) or {}, keep)
            if execution is None:
                problem = f"still running after {timeouts[name]} s"
                print(f"\nExecution {problem}: {run_id}", file=out)
                outcomes[name] = replace(base, status="TIMED OUT", run=stack.get_run(run_id) or {}, problem=problem)
                continue
            report(stack, run_id, execution, out)
            states = len(stack.states_visited(execution["executionArn"]))
            run = stack.get_run(run_id) or {}
            if report_dir is not None or keep is None:
                if report_dir is None:
                    report_dir = Path(tempfile.mkdtemp(prefix="labeltune-demo-reports-"))
                print(f"  HTML report:    {save_report(stack.api_url, run_id, run, report_dir)[1]}", file=out)
            if name in kept:
                print(f"  HTML report (kept): {kept[name].report}", file=out)
            outcomes[name] = replace(base, status=str(execution["status"]), run=run, states=states)
    ordered = [outcomes[name] for name in providers]
    if len(ordered) > 1:
        print("\nSide by side (the same export, the same stack; each run's details above):", file=out)
        for line in comparison_table(ordered):
            print(line, file=out)
        if any(outcome.emulated for outcome in ordered):
            print(
                "  EMULATED: a stand-in model on labeltune's emulator; its metrics are not real model quality.",
                file=out,
            )
    if keep is not None:
        print("", file=out)
        if not kept:
            print(f"kept nothing in {keep}: no run started", file=out)
        for name in providers:
            for line in kept[name].lines() if name in kept else []:
                print(line, file=out)
    print("", file=out)
    for line in result_lines(ordered):
        print(line, file=out)
    return exit_status(ordered)
