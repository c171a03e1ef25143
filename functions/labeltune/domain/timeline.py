"""A run's timeline (GET /runs/{id}/timeline): the states its execution entered, folded from the execution's
history events (GetExecutionHistory's `events`: dicts with `type`, `timestamp` and the event's details).

Only the run's own states are listed: the events of a Map's iterations (inline Map) are skipped, the Map state
itself carries their time, and a Distributed Map's children are child executions, not in this history. A state
is "failed" when its last task result was a failure (a caught error included: the state exits to its Catch), or
when the execution ended while it was open; "running" while the execution runs and it is open. Pure: no clock
(durations come from the events' own times).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "running"]
EXECUTION_ENDS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
_ITERATION_STARTS = {"MapIterationStarted", "ParallelStateStarted"}
_ITERATION_ENDS = {"MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"}
# A state's own work ending well: a retry that succeeds after a failure makes the state succeed again.
_SUCCESS_SUFFIXES = ("Succeeded",)
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (the run store's format); a naive time is taken as UTC."""
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")


@dataclass
class _Open:
    name: str
    entered: datetime
    exited: datetime | None = None
    failed: bool = False


@dataclass
class Timeline:
    execution_status: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    truncated: bool
    states: list[_Open] = field(default_factory=list)

    def as_json(self, run_id: str) -> dict[str, Any]:
        """The API's shape (contract: GET /runs/{id}/timeline)."""
        return {
            "run_id": run_id,
            "execution_status": self.execution_status,
            "started_at": utc_iso(self.started_at) if self.started_at else None,
            "stopped_at": utc_iso(self.stopped_at) if self.stopped_at else None,
            "states": [self._entry(state) for state in self.states],
            "truncated": self.truncated,
        }

    def _entry(self, state: _Open) -> dict[str, Any]:
        exited = state.exited
        outcome: Outcome
        if exited is None and self.execution_status in (None, "RUNNING"):
            outcome = "running"
        elif exited is None and self.truncated:  # its end is past the events read: the execution's word for it
            outcome = "succeeded" if self.execution_status == "SUCCEEDED" else "failed"
        elif exited is None:  # the execution ended while the state was open (a stop, a timeout, a Fail state)
            exited, outcome = self.stopped_at, "failed"
        else:
            outcome = "failed" if state.failed else "succeeded"
        duration = max((exited - state.entered).total_seconds(), 0.0) if exited else None
        return {
            "name": state.name,
            "entered_at": utc_iso(state.entered),
            "exited_at": utc_iso(exited) if exited else None,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "outcome": outcome,
        }


def _result(event_type: str) -> bool | None:
    """True for an event that reports the open state's work succeeded, False for one that reports a failure."""
    if event_type.startswith(("Execution", "MapIteration")) or event_type.endswith(("Entered", "Exited")):
        return None
    if event_type.endswith(_SUCCESS_SUFFIXES):
        return True
    if event_type.endswith(_FAILURE_SUFFIXES):
        return False
    return None


def fold_history(
    events: list[dict[str, Any]], truncated: bool = False, execution: dict[str, Any] | None = None
) -> Timeline:
    """The timeline of `events` (oldest first). `execution` ({"status", "start_date", "stop_date"}, from
    DescribeExecution) wins over what the events say, which matters when the history was cut short."""
    status: str | None = None
    started: datetime | None = None
    stopped: datetime | None = None
    states: list[_Open] = []
    current: _Open | None = None
    depth = 0  # inside a Map iteration (or a Parallel branch): not the run's own states
    for event in events:
        kind, at = str(event.get("type", "")), event.get("timestamp")
        if not isinstance(at, datetime):
            continue
        if kind == "ExecutionStarted":
            status, started = "RUNNING", at
        elif kind in EXECUTION_ENDS:
            status, stopped = EXECUTION_ENDS[kind], at
        elif kind in _ITERATION_STARTS:
            depth += 1
        elif kind in _ITERATION_ENDS or kind in {"ParallelStateSucceeded", "ParallelStateFailed"}:
            depth = max(depth - 1, 0)
        if depth:
            continue
        if kind.endswith("StateEntered"):
            if current is not None:  # left without an exit event (an error caught to the next state): it ended here
                current.exited = at
            name = str((event.get("stateEnteredEventDetails") or {}).get("name", ""))
            current = _Open(name=name, entered=at)
            states.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited = at
            current = None
        elif current is not None and (result := _result(kind)) is not None:
            current.failed = not result
    if execution is not None:
        status = execution.get("status") or status
        started = execution.get("start_date") or started
        stopped = execution.get("stop_date") or stopped
    return Timeline(execution_status=status, started_at=started, stopped_at=stopped, truncated=truncated, states=states)
