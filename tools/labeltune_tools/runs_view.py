"""How `labeltune runs` shows runs to people: pure functions from the API's JSON (and a time passed in) to lines.

Nothing here reads the clock or the network, so every output is tested with fixed inputs. The field names are
the run record's as GET /runs/{id} returns it; a field the API did not return is left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

FINISHED = {"SUCCEEDED": 0, "FAILED": 1, "CANCELLED": 3}
EXIT_TIMEOUT = 4
DATASET_COUNTS = (
    ("rows_read", "rows"),
    ("train_examples", "train"),
    ("validation_examples", "validation"),
    ("eval_examples", "eval"),
    ("rejected_rows", "rejected"),
)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the API (naive ones are UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(seconds: float | None) -> str:
    """Seconds as people read them: 42s, 3m 05s, 2h 04m, 3d 02h; '-' when unknown."""
    if seconds is None or seconds < 0:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def _between(start: Any, end: Any, now: datetime) -> float | None:
    began, ended = parse_time(start), parse_time(end)
    if began is None:
        return None
    return ((ended or now) - began).total_seconds()


def ago(value: Any, now: datetime) -> str:
    seconds = _between(value, None, now)
    return "-" if seconds is None else f"{duration(seconds)} ago"


def run_duration(run: Mapping[str, Any], now: datetime) -> str:
    """From creation to the end, or to now for a run still in flight (marked '+')."""
    seconds = _between(run.get("created_at"), run.get("finished_at"), now)
    if seconds is None:
        return "-"
    return duration(seconds) if run.get("finished_at") else f"{duration(seconds)}+"


def gate_word(run: Mapping[str, Any]) -> str:
    gate = run.get("gate_passed")
    return "-" if gate is None else ("passed" if gate else "failed")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = []
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join(cells).rstrip())
    return lines


def runs_table(runs: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    if not runs:
        return ["no runs"]
    rows = [
        [
            str(run.get("run_id", "-")),
            str(run.get("status", "-")),
            str(run.get("provider") or "-"),
            ago(run.get("created_at"), now),
            run_duration(run, now),
            gate_word(run),
        ]
        for run in runs
    ]
    return table(["RUN", "STATUS", "PROVIDER", "STARTED", "DURATION", "GATE"], rows)


def dataset_counts(run: Mapping[str, Any]) -> str | None:
    parts = [f"{label} {run[key]}" for key, label in DATASET_COUNTS if run.get(key) is not None]
    return ", ".join(parts) if parts else None


def evaluation_summary(run: Mapping[str, Any]) -> str | None:
    """ROUGE-L and leak rate, base -> tuned, over how many examples; None before evaluation ends."""
    if run.get("tuned_rouge_l") is None:
        return None
    parts = [f"ROUGE-L {_num(run.get('base_rouge_l'))} -> {_num(run.get('tuned_rouge_l'))}"]
    if run.get("tuned_leak_rate") is not None:
        parts.append(f"leak rate {_num(run.get('base_leak_rate'))} -> {_num(run.get('tuned_leak_rate'))}")
    if run.get("evaluated_examples") is not None:
        parts.append(f"{run['evaluated_examples']} examples")
    return ", ".join(parts)


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def job_summary(run: Mapping[str, Any]) -> str | None:
    if run.get("job_status") is None and run.get("job_id") is None:
        return None
    text = str(run.get("job_status") or "-")
    if run.get("trained_tokens") is not None:
        text += f", {run['trained_tokens']} trained tokens"
    return text


def current_state(run: Mapping[str, Any], timeline: Mapping[str, Any] | None) -> str:
    """The state the run is in: the timeline's last state (its execution's view), else the run's status."""
    states = (timeline or {}).get("states") or []
    if states:
        last = states[-1]
        name = str(last.get("name", "?"))
        return name if last.get("outcome") == "running" else f"{name} ({last.get('outcome', '?')})"
    return str(run.get("status", "?"))


def progress(run: Mapping[str, Any], timeline: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """What `runs watch` shows, as (label, value) pairs; a line is printed whenever any of them changes."""
    fields = [("status", str(run.get("status", "?"))), ("state", current_state(run, timeline))]
    for label, value in (
        ("dataset", dataset_counts(run)),
        ("job", job_summary(run)),
        ("evaluation", evaluation_summary(run)),
    ):
        if value is not None:
            fields.append((label, value))
    if run.get("gate_passed") is not None:
        fields.append(("gate", gate_word(run)))
    if run.get("error"):
        fields.append(("error", str(run["error"])))
    return fields


def progress_line(fields: Sequence[tuple[str, str]], elapsed: float) -> str:
    return f"[{duration(elapsed):>7}] " + " | ".join(f"{label}: {value}" for label, value in fields)


def run_details(run: Mapping[str, Any], now: datetime) -> list[str]:
    """`runs show`: the run's headline fields, one per line, labels aligned."""
    rows: list[tuple[str, str]] = [
        ("run", str(run.get("run_id", "-"))),
        ("project", str(run.get("project_id", "-"))),
        ("status", str(run.get("status", "-"))),
        ("provider", str(run.get("provider") or "-")),
        ("created", f"{run.get('created_at', '-')} ({ago(run.get('created_at'), now)})"),
        ("duration", run_duration(run, now)),
    ]
    if run.get("finished_at"):
        rows.append(("finished", str(run["finished_at"])))
    if run.get("cancel_requested_at"):
        rows.append(("cancel requested", str(run["cancel_requested_at"])))
    optional = (
        ("dataset", dataset_counts(run)),
        ("base model", run.get("base_model")),
        ("job", job_summary(run)),
        ("tuned model", run.get("fine_tuned_model")),
        ("evaluation", evaluation_summary(run)),
    )
    rows += [(label, str(value)) for label, value in optional if value is not None]
    if run.get("gate_passed") is not None:
        rows.append(("gate", gate_word(run)))
    for failure in (run.get("gate") or {}).get("failures") or []:
        rows.append(("gate failure", str(failure)))
    if run.get("error"):
        rows.append(("error", str(run["error"])))
    if run.get("error_message"):
        rows.append(("error message", " ".join(str(run["error_message"]).split())))
    width = max(len(label) for label, _ in rows)
    return [f"{label + ':':<{width + 1}} {value}" for label, value in rows]


def timeline_lines(timeline: Mapping[str, Any], now: datetime) -> list[str]:
    """`runs show --timeline`: the execution's states with when they began and how long they took."""
    head = f"execution: {timeline.get('execution_status') or 'not started'}"
    total = _between(timeline.get("started_at"), timeline.get("stopped_at"), now)
    if total is not None:
        head += f", {duration(total)}" + ("" if timeline.get("stopped_at") else " so far")
    states = timeline.get("states") or []
    if not states:
        return [head, "no states entered"]
    rows = []
    for state in states:
        seconds = state.get("duration_seconds")
        if seconds is None and state.get("outcome") == "running":
            seconds = _between(state.get("entered_at"), None, now)
            took = f"{duration(seconds)}+" if seconds is not None else "-"
        else:
            took = duration(seconds)
        rows.append([str(state.get("name", "?")), str(state.get("entered_at") or "-"), took, str(state.get("outcome"))])
    lines = [head, *table(["STATE", "ENTERED", "DURATION", "OUTCOME"], rows)]
    if timeline.get("truncated"):
        lines.append("(truncated: the execution's history is longer than what is shown)")
    return lines


def exit_code(status: Any) -> int | None:
    """The exit status for a finished run (0 SUCCEEDED, 1 FAILED, 3 CANCELLED); None while it is in flight."""
    return FINISHED.get(str(status)) if status is not None else None


def project_lines(project: Mapping[str, Any]) -> list[str]:
    """`projects get|put`: each field on its own line, labels aligned; nested values as compact JSON."""
    import json

    if not project:
        return ["(no fields)"]
    width = max(len(str(key)) for key in project)
    return [
        f"{str(key) + ':':<{width + 1}} "
        + (json.dumps(value, separators=(", ", ": ")) if isinstance(value, dict | list) else str(value))
        for key, value in project.items()
    ]
