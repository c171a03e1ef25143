"""The evaluation fanned out on the real state machine (moto runs the Distributed Map over the chunk manifest):
every chunk asked once, a chunk that fails transiently retried by the Map without the others asked again."""

from __future__ import annotations

import uuid
from typing import Any

from labeltune.domain.run_ids import new_manual_run_id
from labeltune_tools.embedded.lambda_runtime import RUNTIME
from labeltune_tools.embedded.stack import EmbeddedStack

from .conftest import http, new_project
from .test_bedrock import run_of, start_run


def _chunk_invocations(run_id: str) -> list[int]:
    """The chunk index of every EvaluateFunction invocation for this run's chunks, in order."""
    return [
        event["chunk"]["index"]
        for function, event in RUNTIME.events
        if function.endswith("EvaluateFunction")
        and isinstance(event, dict)
        and event.get("action") == "chunk"
        and event.get("run_id") == run_id
    ]


def _is_chunk(run_id: str, index: int) -> Any:
    def when(event: Any) -> bool:
        return (
            isinstance(event, dict)
            and event.get("action") == "chunk"
            and event.get("run_id") == run_id
            and event["chunk"]["index"] == index
        )

    return when


def test_every_chunk_is_evaluated_once_and_merged_in_order(stack: EmbeddedStack) -> None:
    project = new_project(stack, evaluation_concurrency=4)  # 2 chunks at a time
    run_id = start_run(stack, project)
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    run = run_of(stack, run_id)
    chunks = run["evaluation_chunks"]
    assert chunks >= 2, run.get("eval_examples")
    assert sorted(_chunk_invocations(run_id)) == list(range(chunks))
    assert run["evaluated_examples"] == run["eval_examples"]
    assert stack.resources is not None
    body = stack.client("s3").get_object(
        Bucket=stack.resources.bucket_name, Key=f"runs/{run_id}/evaluation/examples.jsonl"
    )["Body"]
    lines = body.read().decode().splitlines()
    assert len(lines) == 2 * run["eval_examples"]


def test_a_chunk_that_fails_transiently_is_retried_alone(stack: EmbeddedStack) -> None:
    """Chunk 1 answers a rate limit once, after its calls went through: the Map retries that chunk with backoff,
    which finds its own results done; no other chunk is invoked twice, and the run succeeds."""
    project = new_project(stack, evaluation_concurrency=4)
    key = uuid.uuid4().hex
    run_id = new_manual_run_id(project, key)
    RUNTIME.crash_next(
        "EvaluateFunction",
        error_type="TransientError",
        message="429 rate limited",
        after_handler=True,
        when=_is_chunk(run_id, 1),
    )
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    assert http("POST", f"{stack.api_url}/projects/{project}/runs", b"{}", headers)[0] == 202
    assert stack.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    indexes = _chunk_invocations(run_id)
    assert indexes.count(1) == 2
    assert all(indexes.count(i) == 1 for i in set(indexes) - {1})
    run = run_of(stack, run_id)
    assert run["evaluated_examples"] == run["eval_examples"]


def test_predictions_and_the_judge_on_the_local_stack(stack: EmbeddedStack) -> None:
    """A project asking for predictions and the judge: the local stack's sink (files under the run, as the
    LabelSource=s3 stack has no Labelbox) gets one prediction per answered held-out row; the emulators' stand-in
    judge reads every tuned summary, and its agreement with the human-labelled set is on the run."""
    project = new_project(stack, predictions={"enabled": True}, judge={"enabled": True})
    run_id = start_run(stack, project)
    execution = stack.wait_for_execution(run_id)
    assert execution["status"] == "SUCCEEDED"
    states = stack.states_visited(execution["executionArn"])
    assert states[-4:] == ["PublishPredictions", "ArePredictionsPublished", "RecordRunSuccess", "RunSucceeded"]
    run = run_of(stack, run_id)
    assert run["predictions_uploaded"] == run["tuned_metrics"]["examples"] - run["tuned_metrics"]["errors"]
    assert stack.resources is not None
    listed = stack.client("s3").list_objects_v2(
        Bucket=stack.resources.bucket_name, Prefix=f"runs/{run_id}/predictions/"
    )
    assert any(o["Key"].endswith(".jsonl") for o in listed.get("Contents", []))
    assert run["judge_summary"]["judged"] == run["tuned_metrics"]["examples"] - run["tuned_metrics"]["errors"]
    assert run["judge_agreement"]["examples"] >= 30 and isinstance(run["judge_trusted"], bool)
