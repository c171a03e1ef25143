"""Build the sample events in ``events/`` (for ``sam local invoke -e``) from one place.

The webhook event carries an HMAC over its exact body string; hand-editing the JSON would silently
break the signature, so the files are generated here and ``test_events.py`` checks they still match.
Regenerate with ``python tests/infra/sample_events.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from labeltune.adapters.openai_serving import OpenAIServing
from labeltune.domain import signature
from labeltune.domain.project_config import ProjectConfig
from labeltune.pipeline.export import snapshot_key
from labeltune.pipeline.prepare import PreparedDataset, dataset_key
from labeltune_tools.emulator.webhooks import signed_headers

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events"

SAMPLE_WEBHOOK_SECRET = "sample-webhook-secret"
SAMPLE_OPENAI_WEBHOOK_SECRET = "whsec_c2FtcGxlLW9wZW5haS13ZWJob29rLXNlY3JldC0zMmI="  # base64 of a sample key
SAMPLE_TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAVNhbXBsZSB0YXNrIHRva2Vu"  # shaped like one; resumes nothing
OPENAI_EVENT_AT = 1789471813  # 2026-09-15T11:30:13Z
PROJECT_ID = "clx-support-summaries-demo"
RUN_ID = "run-sample-0001"
JOB_ID = "ftjob-sample"
EXPORT_TASK_ID = "clx-export-task-sample"
CONFIG = ProjectConfig().model_dump(mode="json")
BASE_MODEL = "gpt-4.1-mini-2025-04-14"
API_ID = "a1b2c3d4e5"
ACCOUNT_ID = "123456789012"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:{ACCOUNT_ID}:stateMachine:labeltune-pipeline"

# Built with the model PrepareDataset returns, so the sample can't drift from what the state machine passes on.
DATASET: dict[str, Any] = PreparedDataset(
    run_id=RUN_ID,
    train_key=dataset_key(RUN_ID, "train.jsonl"),
    validation_key=dataset_key(RUN_ID, "validation.jsonl"),
    eval_key=dataset_key(RUN_ID, "eval.jsonl"),
    rejected_key=dataset_key(RUN_ID, "rejected.jsonl"),
    counts={"rows_read": 80, "train": 60, "validation": 8, "eval": 8, "rejected": 4},
    rejected_by_reason={"not_done": 2, "no_label": 1, "empty_response": 1},
).model_dump(mode="json")


def sign(body: str, secret: str, algorithm: str = "sha256") -> str:
    """Return the ``<algorithm>=<hex>`` value Labelbox sends in ``X-Hub-Signature[-256]``."""
    return signature.sign(secret, body.encode(), algorithm)


def webhook_body() -> str:
    """The exact body string of a Labelbox v1 ``LABEL_CREATED`` delivery (``label`` is a JSON string)."""
    label = {
        "objects": [],
        "classifications": [
            {
                "featureId": "clxfeature0000000000000001",
                "schemaId": "clxschema00000000000000001",
                "title": "Summary",
                "value": "summary",
                "answer": (
                    "The customer reported that a delivered blender was missing its lid and asked for a "
                    "replacement. The agent confirmed the order and arranged for a lid to be shipped "
                    "within three working days."
                ),
            }
        ],
        "relationships": [],
    }
    payload = {
        "id": "clxlabel000000000000000001",
        "label": json.dumps(label, separators=(",", ":")),
        "dataRow": {"id": "clxdatarow0000000000000001", "globalKey": "chat-0001"},
        "project": {"id": PROJECT_ID, "name": "Support chat summaries"},
        "createdAt": "2026-09-14T09:30:12.000Z",
        "createdBy": {"id": "clxuser000000000000000001", "email": "annotator@example.com"},
    }
    return json.dumps(payload, separators=(",", ":"))


def _http_api_v1_event(
    method: str,
    resource: str,
    path: str,
    path_parameters: dict[str, str] | None,
    headers: dict[str, str],
    body: str | None,
    iam_caller: bool,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event in payload format 1.0 (what the Powertools resolver parses).

    HTTP APIs deliver header names in lower case; an IAM-authorised route fills the caller identity.
    """
    identity: dict[str, Any] = {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": "198.51.100.7",
        "user": None,
        "userAgent": headers.get("user-agent", ""),
        "userArn": None,
    }
    if iam_caller:
        identity.update(
            accessKey="ASIAEXAMPLEEXAMPLE01",
            accountId=ACCOUNT_ID,
            caller="AROAEXAMPLEEXAMPLE01:operator",
            user="AROAEXAMPLEEXAMPLE01:operator",
            userArn=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/LabeltuneOperator/operator",
        )
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "authorizer": {"claims": None, "scopes": None},
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": API_ID,
            "extendedRequestId": "Zx9YzExampleRq=",
            "httpMethod": method,
            "identity": identity,
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": "Zx9YzExampleRq=",
            "requestTime": "14/Sep/2026:09:30:13 +0000",
            "requestTimeEpoch": 1789378213000,
            "resourceId": f"{method} {resource}",
            "resourcePath": resource,
            "stage": "$default",
        },
        "pathParameters": path_parameters,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
    }


def build_events() -> dict[str, dict[str, Any]]:
    """Return every sample event keyed by its file name under ``events/``."""
    body = webhook_body()
    host = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
    webhook_headers = {
        "content-type": "application/json",
        "host": host,
        "user-agent": "Labelbox-Webhooks",
        "x-labelbox-id": "clxdelivery000000000000001",
        "x-labelbox-event": "LABEL_CREATED",
        "x-hub-signature": sign(body, SAMPLE_WEBHOOK_SECRET, "sha1"),
        "x-hub-signature-256": sign(body, SAMPLE_WEBHOOK_SECRET, "sha256"),
    }
    openai_body = json.dumps(
        {
            "id": "evt_sample0000000000000001",
            "object": "event",
            "created_at": OPENAI_EVENT_AT,
            "type": "fine_tuning.job.succeeded",
            "data": {"id": JOB_ID},
        },
        separators=(",", ":"),
    )
    openai_headers = {
        "content-type": "application/json",
        "host": host,
        "user-agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
        **signed_headers(SAMPLE_OPENAI_WEBHOOK_SECRET, "msg_sample0001", openai_body.encode(), OPENAI_EVENT_AT),
    }
    iam_headers = {
        "content-type": "application/json",
        "host": host,
        "user-agent": "labeltune-cli",
        "x-amz-date": "20260914T093013Z",
        "x-amz-security-token": "EXAMPLE-SESSION-TOKEN",
        "authorization": (
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE01/20260914/us-east-1/execute-api/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=0000000000000000000000000000000000"
            "000000000000000000000000000000"
        ),
    }
    job = {
        "job_id": JOB_ID,
        "status": "succeeded",
        "state": "succeeded",
        "base_model": BASE_MODEL,
        "fine_tuned_model": f"ft:{BASE_MODEL}:org:labeltune:abc123",
    }
    # What ServeTunedModel returns for an OpenAI model: it is served by its name at once.
    endpoint = OpenAIServing().serve(RUN_ID, job["fine_tuned_model"]).model_dump(mode="json")
    return {
        "api_webhook_labelbox.json": _http_api_v1_event(
            "POST", "/webhooks/labelbox", "/webhooks/labelbox", None, webhook_headers, body, iam_caller=False
        ),
        "api_webhook_openai.json": _http_api_v1_event(
            "POST", "/webhooks/openai", "/webhooks/openai", None, openai_headers, openai_body, iam_caller=False
        ),
        "api_start_run.json": _http_api_v1_event(
            "POST",
            "/projects/{project_id}/runs",
            f"/projects/{PROJECT_ID}/runs",
            {"project_id": PROJECT_ID},
            iam_headers,
            "{}",
            iam_caller=True,
        ),
        "api_get_run.json": _http_api_v1_event(
            "GET",
            "/runs/{run_id}",
            f"/runs/{RUN_ID}",
            {"run_id": RUN_ID},
            {k: v for k, v in iam_headers.items() if k != "content-type"},
            None,
            iam_caller=True,
        ),
        "api_list_runs.json": _http_api_v1_event(
            "GET",
            "/projects/{project_id}/runs",
            f"/projects/{PROJECT_ID}/runs",
            {"project_id": PROJECT_ID},
            {k: v for k, v in iam_headers.items() if k != "content-type"},
            None,
            iam_caller=True,
            query={"limit": "20"},
        ),
        "api_cancel_run.json": _http_api_v1_event(
            "POST",
            "/runs/{run_id}/cancel",
            f"/runs/{RUN_ID}/cancel",
            {"run_id": RUN_ID},
            {k: v for k, v in iam_headers.items() if k != "content-type"},
            None,
            iam_caller=True,
        ),
        "api_run_timeline.json": _http_api_v1_event(
            "GET",
            "/runs/{run_id}/timeline",
            f"/runs/{RUN_ID}/timeline",
            {"run_id": RUN_ID},
            {k: v for k, v in iam_headers.items() if k != "content-type"},
            None,
            iam_caller=True,
        ),
        "run_events_stream.json": runs_stream_event(),
        "export_labels_start.json": {"action": "start", "run_id": RUN_ID, "project_id": PROJECT_ID, "config": CONFIG},
        "export_labels_check.json": {
            "action": "check",
            "run_id": RUN_ID,
            "task_id": EXPORT_TASK_ID,
            "started_at": "2026-11-26T10:00:00.000+00:00",
        },
        "export_labels_snapshot.json": {
            "action": "snapshot",
            "run_id": RUN_ID,
            "task_id": EXPORT_TASK_ID,
            "config": CONFIG,
        },
        "prepare_dataset.json": {
            "run_id": RUN_ID,
            "project_id": PROJECT_ID,
            "config": CONFIG,
            "snapshot_key": snapshot_key(RUN_ID),
        },
        "start_fine_tune.json": {"run_id": RUN_ID, "dataset": DATASET, "config": CONFIG},
        "check_fine_tune.json": {
            "run_id": RUN_ID,
            "job_id": JOB_ID,
            "provider": CONFIG["provider"],
            "task_token": SAMPLE_TASK_TOKEN,
        },
        "serve_model_start.json": {"action": "start", "run_id": RUN_ID, "provider": CONFIG["provider"], "job": job},
        "serve_model_check.json": {
            "action": "check",
            "run_id": RUN_ID,
            "provider": CONFIG["provider"],
            "endpoint_id": endpoint["endpoint_id"],
            "requested_at": "2026-11-26T11:00:00.000+00:00",
        },
        "evaluate_plan.json": {
            "action": "plan",
            "run_id": RUN_ID,
            "dataset": DATASET,
            "job": job,
            "endpoint": endpoint,
            "config": CONFIG,
        },
        "evaluate_chunk.json": {
            "action": "chunk",
            "run_id": RUN_ID,
            "provider": CONFIG["provider"],
            "base_model": BASE_MODEL,
            "tuned_model": job["fine_tuned_model"],
            "chunk": {"index": 0, "key": f"runs/{RUN_ID}/evaluation/chunks/00000.input.jsonl", "examples": 50},
        },
        "evaluate_aggregate.json": {
            "action": "aggregate",
            "run_id": RUN_ID,
            "manifest_key": f"runs/{RUN_ID}/evaluation/manifest.json",
            "base_model": BASE_MODEL,
            "tuned_model": job["fine_tuned_model"],
            "config": CONFIG,
        },
        "publish_predictions.json": {"run_id": RUN_ID, "project_id": PROJECT_ID, "config": CONFIG},
        "record_outcome.json": {
            "run_id": RUN_ID,
            "project_id": PROJECT_ID,
            "outcome": "FAILED",
            "error": "FineTuneFailed",
            "cause": "The fine-tuning job failed: the training file has fewer than 10 valid examples.",
        },
        "record_outcome_execution_ended.json": execution_status_change("TIMED_OUT"),
        "bedrock_job_events_completed.json": bedrock_job_state_change("Completed"),
    }


def bedrock_job_state_change(status: str) -> dict[str, Any]:
    """Bedrock's "Model Customization Job State Change" for a job of this stack, in the shape of the Bedrock user
    guide's sample event (what template.yaml's JobEnded rule sends BedrockJobEventsFunction)."""
    job_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT_ID}:model-customization-job/amazon.nova-micro-v1:0:128k/s4mpl3j0b"
    return {
        "version": "0",
        "id": "0b6b8c8e-4c4e-4a5f-9d0f-6f0f5c0b9a11",
        "detail-type": "Model Customization Job State Change",
        "source": "aws.bedrock",
        "account": ACCOUNT_ID,
        "time": "2026-09-15T11:30:13Z",
        "region": "us-east-1",
        "resources": [job_arn],
        "detail": {
            "version": "0.0",
            "jobName": f"labeltune-{RUN_ID}",
            "jobArn": job_arn,
            "outputModelName": f"labeltune-{RUN_ID}",
            "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/labeltune-BedrockJobRole-SAMPLE",
            "jobStatus": status,
            "creationTime": "2026-09-15T10:30:13Z",
            "lastModifiedTime": "2026-09-15T11:30:13Z",
            "endTime": "2026-09-15T11:30:13Z",
            "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        },
    }


def execution_status_change(status: str) -> dict[str, Any]:
    """EventBridge's "Step Functions Execution Status Change" for the sample run, as AWS documents it: what
    template.yaml's ExecutionEndedBadly rule sends RecordOutcome when an execution ends outside the Record*
    states (here it timed out). The execution's input is what the trigger starts it with."""
    execution_arn = f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:', 1)}:{RUN_ID}"
    execution_input = {"run_id": RUN_ID, "project_id": PROJECT_ID, "fallback_check_seconds": 150, "config": CONFIG}
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT_ID,
        "time": "2026-09-15T09:30:13Z",
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": STATE_MACHINE_ARN,
            "name": RUN_ID,
            "status": status,
            "startDate": 1789378213000,
            "stopDate": 1789464613000,
            "input": json.dumps(execution_input, separators=(",", ":")),
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": None,
            "cause": None,
        },
    }


def runs_stream_event() -> dict[str, Any]:
    """The runs table's stream as Lambda delivers it to RunEventsFunction (DynamoDB JSON, NEW_AND_OLD_IMAGES): the
    sample run moving from TRAINING to EVALUATING."""
    old = {
        "run_id": {"S": RUN_ID},
        "project_id": {"S": PROJECT_ID},
        "status": {"S": "TRAINING"},
        "created_at": {"S": "2026-09-14T09:30:13.000+00:00"},
        "status_changed_at": {"S": "2026-09-14T09:31:40.000+00:00"},
        "trained_tokens": {"N": "48234"},
    }
    new = {**old, "status": {"S": "EVALUATING"}, "status_changed_at": {"S": "2026-09-15T11:30:20.000+00:00"}}
    stream = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/labeltune-RunsTable-SAMPLE/stream/2026-09-01T00:00:00.000"
    return {
        "Records": [
            {
                "eventID": "c4ca4238a0b923820dcc509a6f75849b",
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1789471820,
                    "Keys": {"run_id": {"S": RUN_ID}},
                    "NewImage": new,
                    "OldImage": old,
                    "SequenceNumber": "111100000000000000000001",
                    "SizeBytes": 412,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": stream,
            }
        ]
    }


def render(event: dict[str, Any]) -> str:
    """Serialise an event the way the files are stored (stable, diff-friendly)."""
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write every sample event into ``events/``."""
    EVENTS_DIR.mkdir(exist_ok=True)
    for name, event in build_events().items():
        (EVENTS_DIR / name).write_text(render(event), encoding="utf-8")
        print(f"wrote events/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
