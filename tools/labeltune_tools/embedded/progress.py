"""A run's progress as lines of text, from its execution history and its run record, polled.

Pure: the caller polls (Step Functions' GetExecutionHistory, the run record) and prints; this only decides what
is new since the last poll. One line per state entered, its time from the execution's start; the run's status
and counts (dataset examples, job status and trained tokens, evaluation) added when they change. States inside a
Map are not listed one by one (a distributed Map runs them in child executions anyway): the Map's line, then one
line when it ends with how many iterations succeeded or failed. A state entered again and again (a wait loop)
is shown its first two times and every tenth, so a long fine-tune does not flood the screen. Ids, words and
counts only: nothing from the chats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# A state entered more often than this is shown again only every REPEAT_EVERY-th time.
SHOWN_REPEATS = 2
REPEAT_EVERY = 10
STATE_WIDTH = 22  # the longest state name of the pipeline, so the counts line up
ENDED_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
_ITERATION_ENDS = {
    "MapIterationSucceeded": "succeeded",
    "MapIterationFailed": "failed",
    "MapIterationAborted": "aborted",
}
_MAP_RUN_ENDS = {"MapRunSucceeded": "succeeded", "MapRunFailed": "failed", "MapRunAborted": "aborted"}


@dataclass(frozen=True)
class RunProgress:
    """What has been shown of one run so far; `progress_lines` returns the next one."""

    label: str  # e.g. "[openai] ", padded by the caller so several runs' lines line up
    last_event_id: int = 0
    started_at: datetime | None = None
    entries: Mapping[str, int] = field(default_factory=dict)  # times each state was entered
    in_map: str | None = None  # the Map state being run, while its children's states are not listed
    iterations: Mapping[str, int] = field(default_factory=dict)  # the Map's iterations by outcome
    shown: Mapping[str, str] = field(default_factory=dict)  # each fact as last shown
    ended: str | None = None  # the execution's end status, once seen
    current: str | None = None  # the state entered last (a line with only new facts names it)


def _count(value: Any) -> str:
    return "?" if value is None else str(value)


def run_facts(run: Mapping[str, Any] | None) -> dict[str, str]:
    """The run record's facts worth a progress line, in the order shown; a fact is absent until the run has it."""
    if not run:
        return {}
    facts: dict[str, str] = {}
    if run.get("status"):
        facts["status"] = f"run {run['status']}"
    if run.get("train_examples") is not None:
        facts["dataset"] = (
            f"dataset {_count(run.get('train_examples'))} train / {_count(run.get('validation_examples'))} "
            f"validation / {_count(run.get('eval_examples'))} eval ({_count(run.get('rejected_rows'))} rows rejected)"
        )
    if run.get("job_status"):
        job = f"job {run['job_status']}"
        if run.get("trained_tokens") is not None:
            job += f", {run['trained_tokens']} trained tokens"
        facts["job"] = job
    tuned, base = run.get("tuned_metrics"), run.get("base_metrics")
    if isinstance(tuned, Mapping) and isinstance(base, Mapping):
        facts["evaluation"] = (
            f"ROUGE-L {base.get('rouge_l')} -> {tuned.get('rouge_l')}, "
            f"leak rate {base.get('leak_rate')} -> {tuned.get('leak_rate')} (base -> tuned, "
            f"{_count(run.get('evaluated_examples'))} examples)"
        )
    elif run.get("evaluation_chunks") is not None:
        facts["evaluation"] = f"evaluation in {run['evaluation_chunks']} chunk(s)"
    if run.get("gate_passed") is not None:
        facts["gate"] = "gate passed" if run["gate_passed"] else "gate did NOT pass"
    if run.get("error"):
        facts["error"] = f"error {run['error']}"  # the code only: a provider's message may quote data
    return facts


def _seconds(progress: RunProgress, at: datetime | None) -> str:
    if progress.started_at is None or at is None:
        return "    ?s"
    return f"+{(at - progress.started_at).total_seconds():.1f}s".rjust(7)


def _ordinal_suffix(times: int) -> str:
    return "" if times == 1 else f" (x{times})"


def _iterations(counts: Mapping[str, int]) -> str:
    if not counts:
        return ""
    return ", ".join(f"{number} {outcome}" for outcome, number in sorted(counts.items()))


def progress_lines(
    progress: RunProgress, events: Sequence[Mapping[str, Any]], run: Mapping[str, Any] | None, now: datetime
) -> tuple[list[str], RunProgress]:
    """The lines to print for what is new in `events` (the whole history so far, oldest first) and in `run` (the
    run record as polled, or None), and the progress to pass next time. `now` dates a line that only reports
    new facts (a job's status changing during a long wait)."""
    entries, iterations = dict(progress.entries), dict(progress.iterations)
    started_at, in_map, ended, current = progress.started_at, progress.in_map, progress.ended, progress.current
    last_id = progress.last_event_id
    rows: list[tuple[datetime | None, str]] = []  # (when, what) for each line, facts appended below
    for event in events:
        event_id = int(event.get("id", 0))
        if event_id <= progress.last_event_id:
            continue
        last_id = max(last_id, event_id)
        kind, at = str(event.get("type", "")), event.get("timestamp")
        if kind == "ExecutionStarted":
            started_at = at
        elif kind in ENDED_EVENTS:
            ended = ENDED_EVENTS[kind]
            rows.append((at, f"execution {ended}"))
        elif "stateEnteredEventDetails" in event:
            name = str(event["stateEnteredEventDetails"].get("name", "?"))
            if in_map is not None:  # an inline Map's child state: counted by its iterations instead
                continue
            entries[name] = entries.get(name, 0) + 1
            current = name
            times = entries[name]
            if kind == "MapStateEntered":
                in_map, iterations = name, {}
            if times <= SHOWN_REPEATS or times % REPEAT_EVERY == 0:
                rows.append((at, name + _ordinal_suffix(times)))
        elif kind in _ITERATION_ENDS and in_map is not None:
            outcome = _ITERATION_ENDS[kind]
            iterations[outcome] = iterations.get(outcome, 0) + 1
        elif kind in _MAP_RUN_ENDS and in_map is not None:
            iterations.setdefault(f"map run {_MAP_RUN_ENDS[kind]}", 0)
        elif kind == "MapStateExited" and in_map is not None:
            counted = {key: value for key, value in iterations.items() if not key.startswith("map run")}
            run_word = next((key for key in iterations if key.startswith("map run")), "")
            summary = _iterations(counted) or run_word or "done"
            if counted:
                summary = f"iterations: {summary}"
            rows.append((at, f"{in_map} ended ({summary})"))
            in_map, iterations = None, {}
    facts = run_facts(run)
    changed = [text for key, text in facts.items() if progress.shown.get(key) != text]
    shown = {**progress.shown, **facts}
    after = replace(
        progress,
        last_event_id=last_id,
        started_at=started_at,
        entries=entries,
        in_map=in_map,
        iterations=iterations,
        shown=shown,
        ended=ended,
        current=current,
    )
    if not rows and changed:
        rows.append((now, f"({current or 'starting'})"))
    lines = []
    for index, (at, what) in enumerate(rows):
        line = f"  {progress.label} {_seconds(after, at)}  {what}"
        if index == len(rows) - 1 and changed:
            line = f"{line:<{len(progress.label) + 12 + STATE_WIDTH}}  " + "; ".join(changed)
        lines.append(line.rstrip())
    return lines, after
