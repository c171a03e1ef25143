"""ServeTunedModel / CheckTunedModel: the tuned model is callable before it is evaluated, or the run fails with
the provider's message; the state machine is told how long to wait between looks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from labeltune.adapters.openai_serving import OpenAIServing
from labeltune.clock import fixed_clock, iso
from labeltune.domain.models import EndpointState, FineTuneJob, JobState
from labeltune.errors import ModelNotServed
from labeltune.pipeline.serving import SERVE_DEADLINE, check_tuned_model, serve_tuned_model
from tests.fakes import InMemoryRunStore, ScriptedServing

RUN = "run-0123456789abcdef01234567"
START = "2026-09-15T09:30:00+00:00"
CLOCK = fixed_clock(START)
JOB = FineTuneJob(
    job_id="arn:aws:bedrock:us-east-1:123456789012:model-customization-job/x",
    status="Completed",
    state=JobState.SUCCEEDED,
    base_model="amazon.nova-micro-v1:0:128k",
    fine_tuned_model="arn:aws:bedrock:us-east-1:123456789012:custom-model/x",
)


@pytest.fixture
def runs() -> InMemoryRunStore:
    store = InMemoryRunStore()
    store.create_run(RUN, "p", status="TRAINING")
    return store


def test_a_deployment_is_requested_then_looked_at_until_it_is_ready(runs: InMemoryRunStore) -> None:
    serving = ScriptedServing(states=(EndpointState.PENDING, EndpointState.PENDING, EndpointState.READY))
    first = serve_tuned_model(RUN, JOB, serving, runs, CLOCK)
    assert first.endpoint.state is EndpointState.PENDING and first.wait_seconds == 5
    later = fixed_clock("2026-09-15T09:31:00+00:00")
    second = check_tuned_model(RUN, first.endpoint.endpoint_id, first.requested_at, serving, runs, later)
    assert second.endpoint.state is EndpointState.PENDING and second.wait_seconds == 60  # grows with the wait
    ready = check_tuned_model(RUN, first.endpoint.endpoint_id, first.requested_at, serving, runs, later)
    assert ready.endpoint.state is EndpointState.READY
    run = runs.get_run(RUN)
    assert (run["endpoint_id"], run["endpoint_state"], run["endpoint_status"]) == (
        first.endpoint.endpoint_id,
        "ready",
        "Active",
    )
    assert run["endpoint_requested_at"] == iso(CLOCK())


def test_a_retried_serve_keeps_the_first_request_time_and_endpoint(runs: InMemoryRunStore) -> None:
    serving = ScriptedServing()
    first = serve_tuned_model(RUN, JOB, serving, runs, CLOCK)
    again = serve_tuned_model(RUN, JOB, serving, runs, fixed_clock("2026-09-15T10:00:00+00:00"))
    assert again.requested_at == first.requested_at
    assert len(serving.endpoints) == 1


def test_a_failed_deployment_fails_the_run_with_the_providers_message(runs: InMemoryRunStore) -> None:
    serving = ScriptedServing(states=(EndpointState.FAILED,), fail_message="Insufficient capacity for Nova Micro")
    with pytest.raises(ModelNotServed, match="Insufficient capacity for Nova Micro"):
        serve_tuned_model(RUN, JOB, serving, runs, CLOCK)
    assert runs.get_run(RUN)["endpoint_error_message"] == "Insufficient capacity for Nova Micro"


def test_a_deployment_that_is_never_ready_fails_after_the_deadline(runs: InMemoryRunStore) -> None:
    serving = ScriptedServing(states=(EndpointState.PENDING,))
    first = serve_tuned_model(RUN, JOB, serving, runs, CLOCK)
    late = fixed_clock(CLOCK() + SERVE_DEADLINE + timedelta(seconds=1))
    with pytest.raises(ModelNotServed, match="still Creating"):
        check_tuned_model(RUN, first.endpoint.endpoint_id, first.requested_at, serving, runs, late)


def test_a_job_without_a_tuned_model_cannot_be_served(runs: InMemoryRunStore) -> None:
    with pytest.raises(ModelNotServed, match="without a tuned model"):
        serve_tuned_model(RUN, JOB.model_copy(update={"fine_tuned_model": None}), ScriptedServing(), runs, CLOCK)


def test_openai_serves_a_tuned_model_by_its_name_at_once(runs: InMemoryRunStore) -> None:
    served = serve_tuned_model(
        RUN, JOB.model_copy(update={"fine_tuned_model": "ft:gpt:x"}), OpenAIServing(), runs, CLOCK
    )
    assert (served.endpoint.state, served.endpoint.model_id) == (EndpointState.READY, "ft:gpt:x")
    assert OpenAIServing().release(RUN) == []
