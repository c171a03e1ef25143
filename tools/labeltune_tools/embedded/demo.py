"""`labeltune demo`: the whole pipeline once, on the local stack, from a signed Labelbox webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, TextIO

from labeltune.domain.signature import sign
from labeltune_tools.embedded.stack import EMULATED, EmbeddedStack, StackOptions

DEFAULT_PROJECT = "clx-support-summaries-demo"


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
            f"billable, estimated cost {run.get('estimated_cost_usd')} USD (price table, not a bill)"
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
    write(f"  dataset files:  {run.get('dataset_uri')}")
    write(f"  per-example evaluation: {run.get('evaluation_uri')}")
    write(f"  run record:     DynamoDB table {stack.resources.table_name if stack.resources else '?'}, run_id={run_id}")


def run_demo(export_file: Path, project_id: str, out: TextIO, options: StackOptions | None = None) -> int:
    options = options or StackOptions()
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
    with EmbeddedStack(options=options) as stack:
        assert stack.emulator is not None
        print(
            f"\nStack up: API {stack.api_url}, moto {stack.moto_url}, OpenAI emulator {stack.emulator.base_url}",
            file=out,
        )
        if not options.labelbox_api_key:
            uri = stack.upload_export(project_id, export_file)
            print(f"Labelbox export stand-in: {export_file} -> {uri}", file=out)
        project = stack.configure_project(project_id)
        config = project["config"]
        print(
            f"PUT /projects/{project_id} -> base model {config['base_model']}, "
            f"{config['min_new_labels']} approval(s) start a run",
            file=out,
        )
        status, body = send_labelbox_webhook(stack.api_url, stack.webhook_secret(project_id), project_id)
        print(f"POST /webhooks/labelbox (signed, X-Hub-Signature-256) -> {status} {json.dumps(body)}", file=out)
        if status != 202 or not body.get("run_id"):
            return 1
        # A real fine-tune takes minutes to hours; the emulated one seconds.
        timeout = 6 * 3600 if options.openai_api_key else 300
        execution = stack.wait_for_execution(body["run_id"], timeout=timeout)
        report(stack, body["run_id"], execution, out)
        succeeded = execution["status"] == "SUCCEEDED"
        where = "on emulated services" if all_emulated else "partly on real services"
        print("\nRESULT: " + (f"run succeeded ({where})" if succeeded else "run did NOT succeed"), file=out)
        return 0 if succeeded else 1
