"""The sample events in events/ are valid, current and correctly signed."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from . import sample_events
from .conftest import ROOT

EVENTS_DIR = ROOT / "events"


def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def test_one_event_per_function_and_route() -> None:
    on_disk = {path.name for path in EVENTS_DIR.glob("*.json")}
    assert on_disk == set(sample_events.build_events())


@pytest.mark.parametrize("name", sorted(sample_events.build_events()))
def test_event_file_matches_generator(name: str) -> None:
    # Regenerate with `python tests/infra/sample_events.py` after changing the generator.
    expected = sample_events.render(sample_events.build_events()[name])
    assert (EVENTS_DIR / name).read_text(encoding="utf-8") == expected


def test_webhook_signature_verifies_with_the_sample_secret() -> None:
    event = _load("api_webhook_labelbox.json")
    headers = {k.lower(): v for k, v in event["headers"].items()}
    body = event["body"].encode()
    secret = b"sample-webhook-secret"
    expected_256 = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    expected_1 = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], expected_256)
    assert hmac.compare_digest(headers["x-hub-signature"], expected_1)
    wrong = "sha256=" + hmac.new(b"another-secret", body, hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(headers["x-hub-signature-256"], wrong)
    assert headers["x-labelbox-event"] == "LABEL_CREATED"
    assert headers["x-labelbox-id"]


def test_webhook_body_is_a_v1_label_payload() -> None:
    payload = json.loads(_load("api_webhook_labelbox.json")["body"])
    assert payload["project"]["id"] == "clx-support-summaries-demo"
    assert payload["dataRow"]["id"]
    assert isinstance(payload["label"], str)
    assert isinstance(json.loads(payload["label"]), dict)
    assert {"id", "createdAt", "createdBy"} <= set(payload)


@pytest.mark.parametrize(
    ("name", "method", "resource", "path_parameters"),
    [
        ("api_webhook_labelbox.json", "POST", "/webhooks/labelbox", None),
        (
            "api_start_run.json",
            "POST",
            "/projects/{project_id}/runs",
            {"project_id": "clx-support-summaries-demo"},
        ),
        ("api_get_run.json", "GET", "/runs/{run_id}", {"run_id": "run-sample-0001"}),
    ],
)
def test_api_events_use_payload_format_1_0(
    name: str, method: str, resource: str, path_parameters: dict[str, str] | None
) -> None:
    event = _load(name)
    assert event["version"] == "1.0"
    assert event["httpMethod"] == method
    assert event["resource"] == event["requestContext"]["resourcePath"] == resource
    assert event["pathParameters"] == path_parameters
    path = resource
    for key, value in (path_parameters or {}).items():
        path = path.replace(f"{{{key}}}", value)
    assert event["path"] == event["requestContext"]["path"] == path
    assert event["isBase64Encoded"] is False


def test_step_events_chain_like_the_state_machine() -> None:
    snapshot = _load("export_labels_snapshot.json")
    prepare = _load("prepare_dataset.json")
    start = _load("start_fine_tune.json")
    check = _load("check_fine_tune.json")
    evaluate = _load("evaluate_plan.json")
    record = _load("record_outcome.json")
    run_id = prepare["run_id"]
    assert (prepare["run_id"], prepare["project_id"]) == ("run-sample-0001", "clx-support-summaries-demo")
    assert prepare["snapshot_key"] == f"runs/{run_id}/export.ndjson"
    assert {snapshot["run_id"], start["run_id"], check["run_id"], evaluate["run_id"], record["run_id"]} == {run_id}
    assert prepare["config"] == start["config"] == evaluate["config"]
    assert record["project_id"] == prepare["project_id"]
    assert start["dataset"] == evaluate["dataset"]
    assert start["dataset"]["run_id"] == run_id
    counts = start["dataset"]["counts"]
    assert counts["train"] + counts["validation"] + counts["eval"] + counts["rejected"] == counts["rows_read"]
    assert evaluate["job"]["job_id"] == check["job_id"]
    assert evaluate["job"]["state"] == "succeeded"
    assert evaluate["job"]["fine_tuned_model"].startswith(f"ft:{evaluate['job']['base_model']}:")
    assert record["outcome"] == "FAILED"
    assert {"error", "cause"} <= set(record)
