"""ServeTunedModel / CheckTunedModel: make the tuned model callable before it is evaluated.

OpenAI serves a fine-tuned model by name as soon as its job succeeds; Bedrock serves a customized Nova model
through an on-demand custom model deployment, which takes minutes to become Active and which the run deletes
when it ends (pipeline.outcome), unless the project keeps it. The state machine waits between looks (a Wait
state, never a sleeping Lambda); the wait grows with the time waited, and a deployment that is not Active
within SERVE_DEADLINE fails the run, which then deletes it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from labeltune.clock import Clock, iso, parse_iso
from labeltune.domain.models import EndpointState, FineTuneJob, ModelEndpoint
from labeltune.domain.waits import next_wait
from labeltune.errors import ModelNotServed
from labeltune.pipeline.cancel import RunCancelled, cancelled_meanwhile
from labeltune.ports import ModelServing, RunStore

SERVE_DEADLINE = timedelta(hours=1)
SERVE_FIRST_WAIT_SECONDS = 5
SERVE_MAX_WAIT_SECONDS = 60


class Serving(BaseModel):
    """The state machine's view of the tuned model's endpoint: ready or not, and when to look again."""

    endpoint: ModelEndpoint
    requested_at: str
    wait_seconds: int = Field(SERVE_FIRST_WAIT_SECONDS, description="how long to wait before looking again")


def _recorded(run_id: str, endpoint: ModelEndpoint, requested_at: str, runs: RunStore, clock: Clock) -> Serving:
    runs.update_run(
        run_id,
        endpoint_id=endpoint.endpoint_id,
        endpoint_state=endpoint.state.value,
        endpoint_status=endpoint.status,
    )
    if endpoint.state is EndpointState.FAILED:
        message = endpoint.message or f"the tuned model's endpoint ended {endpoint.status}"
        runs.update_run(run_id, endpoint_error_message=message)
        raise ModelNotServed(message)
    waited = clock() - parse_iso(requested_at)
    if endpoint.state is EndpointState.PENDING and waited > SERVE_DEADLINE:
        raise ModelNotServed(f"the tuned model's endpoint is still {endpoint.status} after {waited}; giving up")
    wait = next_wait(waited, SERVE_FIRST_WAIT_SECONDS, SERVE_MAX_WAIT_SECONDS)
    return Serving(endpoint=endpoint, requested_at=requested_at, wait_seconds=wait)


def serve_tuned_model(run_id: str, job: FineTuneJob, serving: ModelServing, runs: RunStore, clock: Clock) -> Serving:
    """Ask the provider to serve the job's tuned model (a retry finds what the first request started)."""
    if not job.fine_tuned_model:
        raise ModelNotServed(f"job {job.job_id} succeeded without a tuned model id")
    run = runs.get_run(run_id) or {}
    requested_at = str(run.get("endpoint_requested_at") or iso(clock()))
    runs.update_run(run_id, endpoint_requested_at=requested_at)
    endpoint = serving.serve(run_id, job.fine_tuned_model)
    if cancelled_meanwhile(runs.get_run(run_id)):
        # The run's cleanup may have looked for deployments before this one existed: delete it here.
        runs.update_run(run_id, late_endpoints_deleted=serving.release(run_id))
        raise RunCancelled(f"run {run_id} was cancelled while its tuned model was being served; deployment deleted")
    return _recorded(run_id, endpoint, requested_at, runs, clock)


def check_tuned_model(
    run_id: str, endpoint_id: str, requested_at: str, serving: ModelServing, runs: RunStore, clock: Clock
) -> Serving:
    return _recorded(run_id, serving.endpoint(endpoint_id), requested_at, runs, clock)
