"""Closing a run promotes its model when its gate passed: its deployment is kept, the superseded one deleted."""

from __future__ import annotations

from typing import Any

from labeltune.clock import fixed_clock
from labeltune.domain.models import RunStatus
from labeltune.domain.project_config import Hyperparameters
from labeltune.domain.promotions import ProjectModel
from labeltune.pipeline.outcome import keeps_endpoint, record_execution_end, record_outcome
from tests.fakes import InMemoryProjectStore, InMemoryRunStore, ScriptedFineTuneProvider, ScriptedServing

PROJECT = "proj-outcome-promotion"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")


class Stack:
    """One project's runs, its provider, its serving and its project record, all in memory."""

    def __init__(self, **config: Any) -> None:
        self.runs = InMemoryRunStore(clock=CLOCK)
        self.provider = ScriptedFineTuneProvider(statuses=("succeeded",))
        self.serving = ScriptedServing()
        self.projects = InMemoryProjectStore(clock=CLOCK)
        self.config = {"provider": "bedrock", **config}
        self.projects.put_config(PROJECT, self.config)

    def served_run(self, run_id: str, **fields: Any) -> str:
        """A Bedrock run that trained and evaluated, its tuned model served by a deployment of its own."""
        train = self.provider.upload_training_file(f"{run_id}-train.jsonl", ["{}"])
        job = self.provider.create_job(
            run_id=run_id, base_model="m", training_file=train, validation_file=None, hyperparameters=Hyperparameters()
        )
        model = f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{run_id}"
        endpoint = self.serving.serve(run_id, model)
        self.runs.create_run(
            run_id,
            PROJECT,
            status="EVALUATING",
            provider="bedrock",
            config=self.config,
            job_id=job.job_id,
            provider_contacted=True,
            fine_tuned_model=model,
            endpoint_id=endpoint.endpoint_id,
            **fields,
        )
        return endpoint.endpoint_id

    def close(self, run_id: str, outcome: RunStatus = RunStatus.SUCCEEDED, **kwargs: Any) -> dict[str, Any]:
        return record_outcome(
            run_id,
            outcome,
            self.runs,
            CLOCK,
            None,
            None,
            lambda _: self.provider,
            lambda _: self.serving,
            kwargs.get("projects", self.projects),
        )

    def model(self) -> ProjectModel:
        return ProjectModel.of(self.projects.get_project(PROJECT) or {})


def test_a_succeeded_run_that_passed_is_promoted_and_keeps_its_deployment() -> None:
    stack = Stack()
    endpoint = stack.served_run("run-a", evaluation_passed=True)
    reply = stack.close("run-a")
    assert reply["promoted"] and reply["endpoint_kept"] == endpoint and reply["endpoints_deleted"] == []
    assert list(stack.serving.endpoints) == [endpoint]
    assert stack.model().current is not None and stack.model().current.endpoint_id == endpoint
    run = stack.runs.get_run("run-a") or {}
    assert run["status"] == "SUCCEEDED" and run["promoted_at"] == "2026-11-26T10:00:00.000+00:00"


def test_the_next_passing_run_supersedes_it_and_its_deployment_is_deleted() -> None:
    stack = Stack()
    first = stack.served_run("run-a", evaluation_passed=True)
    stack.close("run-a")
    second = stack.served_run("run-b", gate_passed=True)
    reply = stack.close("run-b")
    assert reply["superseded_run_id"] == "run-a" and reply["superseded_endpoints_deleted"] == [first]
    assert list(stack.serving.endpoints) == [second]
    assert [entry.run_id for entry in stack.model().history] == ["run-b", "run-a"]
    assert (stack.runs.get_run("run-b") or {})["superseded_endpoints_deleted"] == [first]


def test_a_project_that_keeps_deployments_keeps_the_superseded_one() -> None:
    stack = Stack(keep_deployment=True)
    first = stack.served_run("run-a", evaluation_passed=True)
    stack.close("run-a")
    stack.served_run("run-b", evaluation_passed=True)
    reply = stack.close("run-b")
    assert reply["superseded_endpoint_kept"] == first and first in stack.serving.endpoints


def test_a_run_that_did_not_pass_is_not_promoted_and_its_deployment_goes() -> None:
    stack = Stack()
    current = stack.served_run("run-a", evaluation_passed=True)
    stack.close("run-a")
    failing = stack.served_run("run-b", evaluation_passed=True, gate_passed=False)  # the gate's word wins
    reply = stack.close("run-b")
    assert "promoted" not in reply and reply["endpoints_deleted"] == [failing]
    assert list(stack.serving.endpoints) == [current]  # the current model is untouched
    assert stack.model().current is not None and stack.model().current.run_id == "run-a"


def test_a_failed_run_is_never_promoted() -> None:
    stack = Stack()
    stack.served_run("run-a", evaluation_passed=True)
    reply = stack.close("run-a", RunStatus.FAILED)
    assert "promoted" not in reply and stack.serving.endpoints == {} and stack.model().current is None


def test_without_the_project_store_nothing_is_promoted() -> None:
    stack = Stack()
    stack.served_run("run-a", evaluation_passed=True)
    reply = stack.close("run-a", projects=None)
    assert "promoted" not in reply and stack.serving.endpoints == {} and stack.model().current is None


def test_a_retried_recorder_promotes_once() -> None:
    stack = Stack()
    endpoint = stack.served_run("run-a", evaluation_passed=True)
    stack.close("run-a")
    again = stack.close("run-a")
    assert "promoted" not in again and again["endpoint_kept"] == endpoint
    assert [entry.run_id for entry in stack.model().history] == ["run-a"]


def test_a_promoted_run_closed_as_failed_afterwards_keeps_the_deployment_of_the_current_model() -> None:
    """A recorder that crashed after promoting: the run is closed FAILED, and the project's current model must
    still answer."""
    stack = Stack()
    endpoint = stack.served_run("run-a", evaluation_passed=True)
    stack.close("run-a")
    stack.runs.items["run-a"]["status"] = "EVALUATING"  # as if the close never reached the record
    record_execution_end(
        "run-a", "TIMED_OUT", stack.runs, CLOCK, None, lambda _: stack.provider, lambda _: stack.serving
    )
    assert (stack.runs.get_run("run-a") or {})["status"] == "FAILED"
    assert list(stack.serving.endpoints) == [endpoint]


def test_keeps_endpoint() -> None:
    assert keeps_endpoint({"promoted_at": "2026-11-26T10:00:00.000+00:00"}, RunStatus.SUCCEEDED)
    assert keeps_endpoint({"promoted_at": "2026-11-26T10:00:00.000+00:00"}, RunStatus.FAILED)
    assert keeps_endpoint({"config": {"keep_deployment": True}}, RunStatus.SUCCEEDED)
    assert not keeps_endpoint({"config": {"keep_deployment": True}}, RunStatus.FAILED)
    assert not keeps_endpoint({"evaluation_passed": True}, RunStatus.SUCCEEDED)  # passed, never promoted
