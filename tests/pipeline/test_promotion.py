"""Promotion and rollback on the in-memory fakes: the history is bounded and loses no promotion, a rollback only
goes to a model that was current before and can still be served, and what served a superseded model goes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from labeltune.clock import fixed_clock
from labeltune.domain.gate import GateVerdict
from labeltune.domain.models import EndpointState, ModelEndpoint
from labeltune.domain.promotions import MAX_PROMOTION_HISTORY, ModelPromotion
from labeltune.errors import ProviderRefused, UnknownProject
from labeltune.pipeline.promotion import (
    CannotServe,
    NeverPromoted,
    NothingToPromote,
    gate_passed,
    model_view,
    promote,
    roll_back,
)
from tests.fakes import InMemoryProjectStore, ScriptedServing

PROJECT = "proj-promotions"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")


def store(**config: Any) -> InMemoryProjectStore:
    projects = InMemoryProjectStore(clock=CLOCK)
    projects.put_config(PROJECT, {"provider": "bedrock", **config})
    return projects


def bedrock_run(run_id: str, serving: ScriptedServing | None = None, **fields: Any) -> dict[str, Any]:
    """A succeeded Bedrock run record; with `serving`, its model is being served by a deployment of its own."""
    model = f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{run_id}"
    endpoint = serving.serve(run_id, model).endpoint_id if serving is not None else None
    return {
        "run_id": run_id,
        "project_id": PROJECT,
        "provider": "bedrock",
        "fine_tuned_model": model,
        "endpoint_id": endpoint,
        **fields,
    }


def current_run(projects: InMemoryProjectStore) -> str | None:
    current = model_view(projects.get_project(PROJECT) or {})["current"]
    return current["run_id"] if current else None


def history_runs(projects: InMemoryProjectStore) -> list[str]:
    return [entry["run_id"] for entry in model_view(projects.get_project(PROJECT) or {})["history"]]


def test_a_passing_run_becomes_the_current_model_with_its_deployment() -> None:
    projects, serving = store(), ScriptedServing()
    run = bedrock_run("run-a", serving)
    change = promote(run, True, projects, CLOCK)
    assert change is not None and change.changed and change.superseded is None
    view = model_view(projects.get_project(PROJECT) or {})
    assert view["current"] == {
        "run_id": "run-a",
        "provider": "bedrock",
        "model_id": run["fine_tuned_model"],
        "endpoint_id": "deployment-run-a",
        "promoted_at": "2026-11-26T10:00:00.000+00:00",
        "reason": "gate passed",
    }
    assert view["history"] == [view["current"]]


def test_an_openai_model_is_served_by_its_own_name() -> None:
    projects = store()
    run = {"run_id": "run-o", "project_id": PROJECT, "provider": "openai", "fine_tuned_model": "ft:gpt:o"}
    change = promote(run, True, projects, CLOCK)
    assert change is not None and change.current.endpoint_id == "ft:gpt:o"


def test_a_failing_verdict_promotes_nothing() -> None:
    projects = store()
    failed = GateVerdict(passed=False, checks=[], failures=["leak rate 0.2000 above the allowed 0.0000"])
    assert promote(bedrock_run("run-a"), failed, projects, CLOCK) is None
    assert promote(bedrock_run("run-a"), False, projects, CLOCK) is None
    assert current_run(projects) is None


def test_a_passing_run_without_a_tuned_model_id_is_refused() -> None:
    with pytest.raises(NothingToPromote):
        promote({"run_id": "r", "project_id": PROJECT}, True, store(), CLOCK)


def test_promoting_the_current_model_again_writes_no_second_entry() -> None:
    projects = store()
    promote(bedrock_run("run-a"), True, projects, CLOCK)
    again = promote(bedrock_run("run-a"), True, projects, CLOCK)
    assert again is not None and not again.changed
    assert history_runs(projects) == ["run-a"]


def test_a_promotion_for_an_unknown_project_is_refused() -> None:
    with pytest.raises(UnknownProject):
        promote({**bedrock_run("run-a"), "project_id": "nobody"}, True, store(), CLOCK)


@pytest.mark.parametrize(
    ("run", "passed"),
    [
        ({"gate_passed": True, "evaluation_passed": False}, True),
        ({"gate_passed": False, "evaluation_passed": True}, False),
        ({"evaluation_passed": True}, True),  # today's runs: the evaluation's own verdict
        ({"evaluation_passed": False}, False),
        ({}, False),
        ({"gate_passed": "yes"}, False),
    ],
)
def test_the_recorded_verdict_prefers_the_gate(run: dict[str, Any], passed: bool) -> None:
    assert gate_passed(run) is passed


def test_the_history_is_newest_first_and_bounded() -> None:
    projects = store()
    for index in range(MAX_PROMOTION_HISTORY + 5):
        promote(bedrock_run(f"run-{index}"), True, projects, CLOCK)
    history = history_runs(projects)
    assert len(history) == MAX_PROMOTION_HISTORY
    assert history[0] == f"run-{MAX_PROMOTION_HISTORY + 4}" and history[-1] == "run-5"
    assert current_run(projects) == history[0]


def test_concurrent_promotions_lose_none() -> None:
    projects = store()
    runs = [bedrock_run(f"run-{index}") for index in range(30)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        changes = list(pool.map(lambda run: promote(run, True, projects, CLOCK), runs))
    assert sorted(history_runs(projects)) == sorted(run["run_id"] for run in runs)
    superseded = [change.superseded.run_id for change in changes if change and change.superseded]
    assert len(superseded) == 29 and len(set(superseded)) == 29  # each model superseded exactly once


# -- rollback ----------------------------------------------------------------------------------------------


def promoted_twice(serving: ScriptedServing, **config: Any) -> InMemoryProjectStore:
    """run-a promoted, then superseded by run-b (whose promotion deleted run-a's deployment)."""
    projects = store(**config)
    promote(bedrock_run("run-a", serving), True, projects, CLOCK)
    promote(bedrock_run("run-b", serving), True, projects, CLOCK)
    serving.release("run-a")
    return projects


def test_a_rollback_serves_the_earlier_model_again_and_deletes_the_superseded_deployment() -> None:
    serving = ScriptedServing()
    projects = promoted_twice(serving)
    assert "deployment-run-a" not in serving.endpoints
    later = fixed_clock("2026-11-27T09:00:00+00:00")

    result = roll_back(PROJECT, "run-a", projects, lambda _: serving, later)

    assert serving.serve_calls[-1] == ("run-a", "arn:aws:bedrock:us-east-1:123456789012:custom-model/run-a")
    assert list(serving.endpoints) == ["deployment-run-a"]  # run-b's deployment went, run-a's is back
    assert result["changed"] and result["superseded_run_id"] == "run-b"
    assert result["superseded_endpoints_deleted"] == ["deployment-run-b"]
    assert result["endpoint"]["endpoint_id"] == "deployment-run-a" and set(result["endpoint"]) == {
        "endpoint_id",
        "state",
        "status",
    }
    assert result["current"]["reason"] == "rollback to run-a"
    assert result["current"]["promoted_at"] == "2026-11-27T09:00:00.000+00:00"
    assert history_runs(projects) == ["run-a", "run-b", "run-a"]
    assert current_run(projects) == "run-a"


def test_a_project_that_keeps_its_deployments_keeps_the_superseded_one() -> None:
    serving = ScriptedServing()
    projects = promoted_twice(serving, keep_deployment=True)
    result = roll_back(PROJECT, "run-a", projects, lambda _: serving, CLOCK)
    assert result["superseded_endpoint_kept"] == "deployment-run-b"
    assert set(serving.endpoints) == {"deployment-run-a", "deployment-run-b"}


def test_a_rollback_to_a_run_never_promoted_is_refused() -> None:
    serving = ScriptedServing()
    projects = promoted_twice(serving)
    with pytest.raises(NeverPromoted, match="run-x was never promoted"):
        roll_back(PROJECT, "run-x", projects, lambda _: serving, CLOCK)
    assert current_run(projects) == "run-b" and serving.serve_calls == [
        ("run-a", _model("run-a")),
        ("run-b", _model("run-b")),
    ]


def _model(run_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{run_id}"


def test_a_rollback_of_another_projects_run_is_refused() -> None:
    serving = ScriptedServing()
    projects = promoted_twice(serving)
    projects.put_config("other", {"provider": "bedrock"})
    with pytest.raises(NeverPromoted):
        roll_back("other", "run-a", projects, lambda _: serving, CLOCK)


def test_a_rollback_for_an_unknown_project_is_refused() -> None:
    with pytest.raises(UnknownProject):
        roll_back("nobody", "run-a", store(), lambda _: ScriptedServing(), CLOCK)


def test_a_rollback_to_the_current_model_changes_nothing() -> None:
    serving = ScriptedServing()
    projects = promoted_twice(serving)
    result = roll_back(PROJECT, "run-b", projects, lambda _: serving, CLOCK)
    assert not result["changed"] and result["current"]["run_id"] == "run-b"
    assert history_runs(projects) == ["run-b", "run-a"] and "deployment-run-b" in serving.endpoints


class RefusingServing(ScriptedServing):
    """Bedrock refusing to deploy a custom model that was deleted."""

    def serve(self, run_id: str, tuned_model: str) -> ModelEndpoint:
        raise ProviderRefused("Bedrock: ResourceNotFoundException: the custom model was not found")


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        (RefusingServing(), "the custom model was not found"),
        (ScriptedServing(states=(EndpointState.FAILED,), fail_message="out of capacity"), "out of capacity"),
    ],
    ids=["refused", "deployment-failed"],
)
def test_a_rollback_to_a_model_that_cannot_be_served_is_refused_and_changes_nothing(
    serving: ScriptedServing, message: str
) -> None:
    projects = store()
    for run_id in ("run-a", "run-b"):
        projects.promote_model(
            PROJECT,
            ModelPromotion(
                run_id=run_id,
                provider="bedrock",
                model_id=_model(run_id),
                endpoint_id=f"deployment-{run_id}",
                promoted_at="2026-11-26T10:00:00.000+00:00",
                reason="gate passed",
            ),
        )
    with pytest.raises(CannotServe, match=message):
        roll_back(PROJECT, "run-a", projects, lambda _: serving, CLOCK)
    assert current_run(projects) == "run-b" and serving.released == []


def test_a_superseded_deployment_that_cannot_be_deleted_leaves_the_rollback_done_and_says_so() -> None:
    class StuckServing(ScriptedServing):
        stuck = False

        def release(self, run_id: str) -> list[str]:
            if self.stuck:
                raise RuntimeError("Bedrock ConflictException: the deployment is being updated")
            return super().release(run_id)

    serving = StuckServing()
    projects = promoted_twice(serving)
    serving.stuck = True
    result = roll_back(PROJECT, "run-a", projects, lambda _: serving, CLOCK)
    assert current_run(projects) == "run-a"
    assert result["superseded_cleanup_error"].startswith("RuntimeError: Bedrock ConflictException")
