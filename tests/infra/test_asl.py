"""The state machine definition is valid ASL and agrees with the template that deploys it."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from typing import Any

from labeltune.domain.waits import next_wait
from labeltune.pipeline.export import EXPORT_DEADLINE, EXPORT_FIRST_WAIT_SECONDS, EXPORT_MAX_WAIT_SECONDS
from labeltune.pipeline.serving import SERVE_DEADLINE, SERVE_FIRST_WAIT_SECONDS, SERVE_MAX_WAIT_SECONDS

from .conftest import ASL_PATH, ROOT

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All states, including those nested in Parallel branches and Map iterators."""
    found: dict[str, dict[str, Any]] = {}

    def walk(machine: dict[str, Any]) -> None:
        for name, state in machine["States"].items():
            found[name] = state
            for branch in state.get("Branches", []):
                walk(branch)
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key])

    walk(asl)
    return found


def _machine(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]["PipelineStateMachine"]["Properties"]


def _invoked_functions(template: dict[str, Any], asl: dict[str, Any]) -> dict[str, str]:
    """Task state -> logical id of the Lambda function it calls (plain ARN or lambda:invoke)."""
    substitutions = _machine(template)["DefinitionSubstitutions"]
    invoked: dict[str, str] = {}
    for name, state in _states(asl).items():
        if state["Type"] != "Task":
            continue
        resource = state["Resource"]
        if resource.startswith("arn:aws:states:::lambda:invoke"):
            resource = state["Parameters"]["FunctionName"]
        match = PLACEHOLDER.fullmatch(resource)
        assert match, f"{name}: Resource {resource!r} is not a ${{...}} substitution"
        value = substitutions[match.group(1)]
        assert "Fn::GetAtt" in value, f"{name}: substitution must be !GetAtt <Function>.Arn"
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", name
        invoked[name] = logical_id
    return invoked


def test_asl_validator_accepts_the_definition() -> None:
    npx = shutil.which("npx")
    assert npx, "node/npx is required: `make test` installs node_modules (npm install)"
    assert (ROOT / "node_modules" / ".bin" / "asl-validator").exists(), (
        "node_modules is missing asl-validator: run `make node` (npm install)"
    )
    result = subprocess.run(
        [npx, "--no-install", "asl-validator", "--json-path", str(ASL_PATH.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholders_match_definition_substitutions(template: dict[str, Any]) -> None:
    placeholders = set(PLACEHOLDER.findall(ASL_PATH.read_text(encoding="utf-8")))
    assert placeholders == set(_machine(template)["DefinitionSubstitutions"])


def test_template_deploys_this_definition(template: dict[str, Any]) -> None:
    assert _machine(template)["DefinitionUri"] == "infra/statemachine/pipeline.asl.json"


def test_every_state_is_reachable_and_every_target_exists(asl: dict[str, Any]) -> None:
    states = asl["States"]
    seen: set[str] = set()
    pending = [asl["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        assert name in states, f"transition to unknown state {name!r}"
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catcher["Next"] for catcher in state.get("Catch", [])]
        pending.extend(t for t in targets if t)
    assert seen == set(states)


def _map_processors(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level Map states and the states of their item processors (a failure there fails the Map)."""
    return {name: state for name, state in asl["States"].items() if state["Type"] == "Map"}


def test_tasks_retry_and_catch_except_the_failure_recorder(asl: dict[str, Any]) -> None:
    states = _states(asl)
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert tasks
    in_maps = {inner for m in _map_processors(asl).values() for inner in _states(m["ItemProcessor"])}
    catch_targets = {c["Next"] for state in states.values() for c in state.get("Catch", [])}
    for name, state in tasks.items():
        assert state.get("Retry"), f"{name} has no Retry"
        if name in in_maps:
            continue  # an item's failure fails its Map, whose Catch records it (below)
        if "Catch" not in state:
            # Only the state every Catch leads to may skip its own Catch: it records the failure.
            assert name in catch_targets, f"{name} has no Catch"
        else:
            assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name
    for name, state in _map_processors(asl).items():
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} has no Catch"
    uncaught = [name for name, state in tasks.items() if "Catch" not in state and name not in in_maps]
    assert uncaught == ["RecordRunFailure"]


def test_every_invoked_lambda_has_an_invoke_policy(template: dict[str, Any], asl: dict[str, Any]) -> None:
    invoked = set(_invoked_functions(template, asl).values())
    granted = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in _machine(template)["Policies"]
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    assert invoked == granted
    assert invoked == {
        "ExportLabelsFunction",
        "PrepareDatasetFunction",
        "StartFineTuneFunction",
        "CheckFineTuneFunction",
        "ServeModelFunction",
        "EvaluateFunction",
        "RecordOutcomeFunction",
        "PublishPredictionsFunction",
    }
    for logical_id in invoked:
        assert template["Resources"][logical_id]["Type"] == "AWS::Serverless::Function"


def test_translated_definition_keeps_substitutions(translated: dict[str, Any]) -> None:
    machine = translated["Resources"]["PipelineStateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == {
        "ExportLabelsFunctionArn",
        "PrepareDatasetFunctionArn",
        "StartFineTuneFunctionArn",
        "CheckFineTuneFunctionArn",
        "ServeModelFunctionArn",
        "EvaluateFunctionArn",
        "RecordOutcomeFunctionArn",
        "PublishPredictionsFunctionArn",
    }


# How a Lambda function that runs out of time or memory fails a Task: `Lambda.Unknown` (the cause says Lambda
# returned no error type), `Sandbox.Timedout` for the lambda:invoke integration, `States.Timeout` for a Task's
# own TimeoutSeconds. Each would run (and bill) the whole step again, up to 15 minutes a time.
NOT_TRANSIENT = {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout", "States.ALL", "States.TaskFailed"}


def test_timeouts_and_out_of_memory_are_not_retried_as_transient(asl: dict[str, Any]) -> None:
    for name, state in _states(asl).items():
        for retrier in state.get("Retry", []):
            retried = set(retrier["ErrorEquals"])
            assert not retried & NOT_TRANSIENT, f"{name} retries {sorted(retried & NOT_TRANSIENT)}"


def test_a_job_create_with_an_unknown_outcome_is_looked_up_again_for_longer_than_it_may_take_to_land(
    asl: dict[str, Any],
) -> None:
    """StartFineTune raises JobCreatePending while a create that got no answer may still land (the settle
    window); the state machine must keep looking for longer than that window, before anything else."""
    from labeltune.settings import Settings

    retriers = _states(asl)["StartFineTune"]["Retry"]
    first = retriers[0]
    assert first["ErrorEquals"] == ["JobCreatePending"]
    interval, attempts, rate = first["IntervalSeconds"], first["MaxAttempts"], first.get("BackoffRate", 2.0)
    waited = sum(interval * rate**n for n in range(attempts))
    settle = Settings.model_fields["job_create_settle_seconds"].default
    assert waited > settle + interval, (waited, settle)
    assert all("JobCreatePending" not in r["ErrorEquals"] for r in retriers[1:])


HISTORY_LIMIT = 25_000  # events in one Standard execution's history (Step Functions quotas)
# A failed attempt adds LambdaFunctionScheduled/Started/Failed; allow one retried attempt per poll on average.
RETRY_EVENTS_PER_POLL = 3


def _events_per_visit(state: dict[str, Any]) -> int:
    """History events one visit of a state adds (JSONPath Lambda tasks, callback tasks, Wait, Choice)."""
    if state["Type"] == "Task" and str(state["Resource"]).endswith(".waitForTaskToken"):
        return 6  # TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded/TimedOut, Exited
    if state["Type"] == "Task":
        return 5  # TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, Exited
    return 2  # StateEntered, StateExited


def _polling_loops(asl: dict[str, Any]) -> list[list[str]]:
    """Every cycle Wait -> ... -> back to the Wait (the export and the fine-tune polling loops)."""
    states = asl["States"]
    loops = []
    for name, state in states.items():
        if state["Type"] != "Wait":
            continue
        path, current = [name], state["Next"]
        while current != name and len(path) < len(states):
            path.append(current)
            nxt = states[current]
            current = nxt.get("Next") or next(
                (c["Next"] for c in nxt.get("Choices", []) if c["Next"] == name or states[c["Next"]]["Type"] == "Wait"),
                nxt.get("Default"),
            )
        if current == name:
            loops.append(path)
    return loops


def _looks_until(deadline: timedelta, first: int, cap: int) -> int:
    """How many times a loop whose waits grow by `next_wait` looks before `deadline` has passed."""
    waited, looks = timedelta(0), 0
    while waited <= deadline:
        waited += timedelta(seconds=next_wait(waited, first, cap))
        looks += 1
    return looks


def test_no_allowed_fallback_interval_can_exhaust_the_execution_history(
    asl: dict[str, Any], template: dict[str, Any]
) -> None:
    """At 1 s (the old MinValue) a 3-day execution polled ~259,000 times: the 25,000-event history ran out after
    about 2,800 polls and the run then cancelled its paid job. Now: the export and the tuned model's endpoint are
    looked at with growing waits until their deadlines; the fine-tuning job is awaited in one callback state,
    entered again every FallbackCheckSeconds (at least the template's MinValue) for the rest of the execution's
    timeout when no event comes; a retry on every look included, it fits."""
    loops = _polling_loops(asl)
    waits = {loop[0]: asl["States"][loop[0]]["SecondsPath"] for loop in loops}
    assert waits == {"WaitForExport": "$.export.wait_seconds", "WaitForTunedModel": "$.serving.wait_seconds"}
    await_state, choice = asl["States"]["AwaitFineTune"], asl["States"]["IsFineTuneFinished"]
    assert await_state["TimeoutSecondsPath"] == "$.fallback_check_seconds"
    timeout_catch = next(c for c in await_state["Catch"] if "States.Timeout" in c["ErrorEquals"])
    # The fine-tuning wait's only loop: timed out, through the choice (the job it holds is unfinished), back to
    # the wait. Not a Catch straight back to AwaitFineTune: moto's engine takes a Catch that names its own state
    # as "no Next given" and follows the state's Next, so the path moto runs and AWS runs would differ.
    assert (timeout_catch["Next"], timeout_catch["ResultPath"]) == ("IsFineTuneFinished", "$.fallback")
    assert choice["Default"] == "AwaitFineTune"
    per_poll = max(sum(_events_per_visit(asl["States"][s]) for s in loop) for loop in loops) + RETRY_EVENTS_PER_POLL
    per_fallback = _events_per_visit(await_state) + _events_per_visit(choice) + RETRY_EVENTS_PER_POLL
    fixed = sum(_events_per_visit(state) for state in asl["States"].values()) + 10  # every other state once
    export_looks = _looks_until(EXPORT_DEADLINE, EXPORT_FIRST_WAIT_SECONDS, EXPORT_MAX_WAIT_SECONDS)
    serve_looks = _looks_until(SERVE_DEADLINE, SERVE_FIRST_WAIT_SECONDS, SERVE_MAX_WAIT_SECONDS)
    minimum = template["Parameters"]["FallbackCheckSeconds"]["MinValue"]
    job_looks = asl["TimeoutSeconds"] // minimum
    worst = (export_looks + serve_looks) * per_poll + job_looks * per_fallback + fixed
    assert worst < HISTORY_LIMIT, (worst, export_looks, serve_looks, job_looks, per_poll)
    assert asl["TimeoutSeconds"] // 1 * per_poll > HISTORY_LIMIT  # the old minimum of 1 s would not fit
