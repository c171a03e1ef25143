"""Promotion and rollback: which tuned model a project currently uses.

A run whose model passed its gate (domain/gate.py) becomes its project's current model when it succeeds
(pipeline/outcome.py calls `promote`); `roll_back` makes an earlier promoted run's model current again (the API's
POST /projects/{id}/model). Either way the model that was current before is superseded, and what served it (a
Bedrock deployment) is deleted, unless the project keeps every deployment (`keep_deployment`): a deployment
nobody calls serves nothing. A rollback to a Bedrock model whose deployment was deleted serves it again first
(deployments are named after their run, so serving it again is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labeltune.clock import Clock, iso
from labeltune.domain.gate import GateVerdict
from labeltune.domain.models import EndpointState, ModelEndpoint
from labeltune.domain.project_config import LEGACY_PROVIDER
from labeltune.domain.promotions import GATE_PASSED, ModelPromotion, ProjectModel, PromotionChange, rollback_reason
from labeltune.errors import ModelNotServed, ProviderRefused, UnknownProject
from labeltune.ports import ModelServing, ProjectStore

ServingFactory = Callable[[str], ModelServing]  # a provider's name -> what serves its tuned models
MAX_MESSAGE = 500


class NothingToPromote(ValueError):
    """A run that passed its gate but records no tuned model id: there is no model to make current."""


class RollbackRefused(Exception):
    """A rollback that cannot be done as asked (the API answers 409): the reason is in the message."""


class NeverPromoted(RollbackRefused):
    """The run's model was never the project's current model (or fell off its bounded history)."""


class CannotServe(RollbackRefused):
    """The earlier model can no longer be served (its tuned model was deleted, or its deployment failed)."""


def gate_passed(run: Mapping[str, Any]) -> bool:
    """The run record's verdict: `gate_passed` where the evaluation recorded the gate's decision, else the
    older `evaluation_passed` (the thresholds alone). Anything but a recorded True promotes nothing."""
    recorded = run.get("gate_passed")
    if recorded is None:
        recorded = run.get("evaluation_passed")
    return recorded is True


def keeps_every_deployment(config: Mapping[str, Any] | None) -> bool:
    return bool((config or {}).get("keep_deployment"))


def promote(
    run: Mapping[str, Any], verdict: GateVerdict | bool, projects: ProjectStore, clock: Clock
) -> PromotionChange | None:
    """Make the run's tuned model its project's current model when `verdict` (the gate's, or the run record's
    boolean) passed; None when it did not. Promoting the current model again changes nothing."""
    passed = verdict.passed if isinstance(verdict, GateVerdict) else verdict is True
    if not passed:
        return None
    run_id = str(run["run_id"])
    model_id = run.get("fine_tuned_model")
    if not model_id:
        raise NothingToPromote(f"run {run_id} passed its gate but records no tuned model id")
    entry = ModelPromotion(
        run_id=run_id,
        provider=str(run.get("provider") or LEGACY_PROVIDER),
        model_id=str(model_id),
        endpoint_id=str(run.get("endpoint_id") or model_id),
        promoted_at=iso(clock()),
        reason=GATE_PASSED,
    )
    return projects.promote_model(str(run["project_id"]), entry)


def release_superseded(change: PromotionChange, serving: ServingFactory, keep: bool) -> dict[str, Any]:
    """Delete what served the model `change` superseded (nothing for OpenAI), unless the project keeps every
    deployment. Never fails the caller: the promotion stands either way, and the answer says what is left."""
    old = change.superseded
    if not change.changed or old is None or old.run_id == change.current.run_id:
        return {}
    if keep:
        return {"superseded_run_id": old.run_id, "superseded_endpoint_kept": old.endpoint_id}
    try:
        deleted = serving(old.provider).release(old.run_id)
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"[:MAX_MESSAGE]
        return {"superseded_run_id": old.run_id, "superseded_cleanup_error": error}
    return {"superseded_run_id": old.run_id, "superseded_endpoints_deleted": deleted}


def model_view(project: Mapping[str, Any]) -> dict[str, Any]:
    """The project's current model and its promotions, newest first, as the API shows them."""
    state = ProjectModel.of(project)
    return {
        "current": state.current.model_dump(mode="json") if state.current else None,
        "history": [entry.model_dump(mode="json") for entry in state.history],
    }


def _served_again(earlier: ModelPromotion, serving: ServingFactory) -> ModelEndpoint:
    """Serve the earlier model (finds its deployment if it is still there); CannotServe when the provider refuses."""
    try:
        endpoint = serving(earlier.provider).serve(earlier.run_id, earlier.model_id)
    except (ProviderRefused, ModelNotServed) as refused:
        raise CannotServe(f"the model of run {earlier.run_id} cannot be served: {refused}"[:MAX_MESSAGE]) from refused
    if endpoint.state is EndpointState.FAILED:
        why = endpoint.message or f"its deployment ended {endpoint.status}"
        raise CannotServe(f"the model of run {earlier.run_id} cannot be served: {why}"[:MAX_MESSAGE])
    return endpoint


def roll_back(
    project_id: str, run_id: str, projects: ProjectStore, serving: ServingFactory, clock: Clock
) -> dict[str, Any]:
    """Make the model of `run_id`, promoted before for this project, current again. Raises UnknownProject,
    NeverPromoted, or CannotServe. A Bedrock deployment served again may still be Creating: the answer's
    `endpoint` says so, and the model answers once it is Active."""
    project = projects.get_project(project_id)
    if project is None:
        raise UnknownProject(project_id)
    state = ProjectModel.of(project)
    earlier = state.promoted(run_id)
    if earlier is None:
        raise NeverPromoted(f"run {run_id} was never promoted for project {project_id}")
    if state.current is not None and state.current.run_id == run_id:
        return {**model_view(project), "changed": False}
    endpoint = _served_again(earlier, serving)
    entry = earlier.model_copy(
        update={"endpoint_id": endpoint.endpoint_id, "promoted_at": iso(clock()), "reason": rollback_reason(run_id)}
    )
    change = projects.promote_model(project_id, entry)
    cleanup = release_superseded(change, serving, keeps_every_deployment(project.get("config")))
    after = projects.get_project(project_id) or project
    shown = endpoint.model_dump(mode="json", include={"endpoint_id", "state", "status"})
    return {**model_view(after), "changed": change.changed, "endpoint": shown, **cleanup}
