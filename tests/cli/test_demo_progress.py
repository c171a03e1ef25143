"""`labeltune demo`'s progress lines, from fixed execution histories and run records (no stack, fixed times)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from labeltune_tools.embedded.progress import RunProgress, progress_lines, run_facts

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


class History:
    """An execution history built event by event, as Step Functions numbers and dates them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, seconds: float, name: str | None = None) -> History:
        event: dict[str, Any] = {"id": len(self.events) + 1, "type": kind, "timestamp": T0 + timedelta(seconds=seconds)}
        if name is not None:
            key = "stateEnteredEventDetails" if kind.endswith("StateEntered") else "stateExitedEventDetails"
            event[key] = {"name": name, "input": '{"chat": "must never be shown"}'}
        self.events.append(event)
        return self

    def enter(self, name: str, seconds: float, kind: str = "TaskStateEntered") -> History:
        return self.add(kind, seconds, name)


def poll(
    progress: RunProgress, history: History, run: dict[str, Any] | None, now: float = 0.0
) -> tuple[list[str], RunProgress]:
    return progress_lines(progress, list(history.events), run, T0 + timedelta(seconds=now))


def test_each_state_is_shown_once_with_its_time_and_new_facts_on_the_last_line() -> None:
    history = (
        History()
        .add("ExecutionStarted", 0)
        .enter("StartExport", 0.01)
        .enter("IsExportReady", 0.2, "ChoiceStateEntered")
    )
    history.enter("SnapshotExport", 0.25)
    progress = RunProgress(label="[openai] ")
    lines, progress = poll(progress, history, {"status": "EXPORTING", "run_id": "run-1"})
    assert lines == [
        "  [openai]    +0.0s  StartExport",
        "  [openai]    +0.2s  IsExportReady",
        "  [openai]    +0.2s  SnapshotExport          run EXPORTING",
    ]
    # Nothing new: nothing printed.
    assert poll(progress, history, {"status": "EXPORTING"})[0] == []
    history.enter("PrepareDataset", 0.8).enter("StartFineTune", 1.3)
    run = {
        "status": "PREPARING",
        "train_examples": 62,
        "validation_examples": 11,
        "eval_examples": 7,
        "rejected_rows": 6,
    }
    lines, progress = poll(progress, history, run)
    assert lines == [
        "  [openai]    +0.8s  PrepareDataset",
        "  [openai]    +1.3s  StartFineTune           run PREPARING; "
        "dataset 62 train / 11 validation / 7 eval (6 rows rejected)",
    ]
    # The same facts are not repeated on the next state's line.
    history.enter("AwaitFineTune", 2.0)
    assert poll(progress, history, run)[0] == ["  [openai]    +2.0s  AwaitFineTune"]


def test_a_fact_that_changes_during_a_wait_gets_a_line_dated_by_the_poll() -> None:
    history = History().add("ExecutionStarted", 0).enter("AwaitFineTune", 1.0)
    lines, progress = poll(RunProgress("[bedrock]"), history, {"status": "TRAINING", "job_status": "InProgress"})
    assert lines == ["  [bedrock]   +1.0s  AwaitFineTune           run TRAINING; job InProgress"]
    lines, progress = poll(
        progress, history, {"status": "TRAINING", "job_status": "Completed", "trained_tokens": 15676}, now=64.5
    )
    assert lines == ["  [bedrock]  +64.5s  (AwaitFineTune)         job Completed, 15676 trained tokens"]


def test_the_end_of_the_execution_and_the_evaluation_are_shown() -> None:
    history = History().add("ExecutionStarted", 0).enter("AggregateEvaluation", 6.0)
    history.enter("RecordRunSuccess", 6.5).enter("RunSucceeded", 7.0, "SucceedStateEntered")
    history.add("ExecutionSucceeded", 7.1)
    run = {
        "status": "SUCCEEDED",
        "base_metrics": {"rouge_l": 0.0282, "leak_rate": 1},
        "tuned_metrics": {"rouge_l": 0.4187, "leak_rate": 0},
        "evaluated_examples": 7,
        "gate_passed": True,
    }
    lines, progress = poll(RunProgress("[openai]"), history, run)
    assert lines[-1] == (
        "  [openai]   +7.1s  execution SUCCEEDED     run SUCCEEDED; ROUGE-L 0.0282 -> 0.4187, "
        "leak rate 1 -> 0 (base -> tuned, 7 examples); gate passed"
    )
    assert progress.ended == "SUCCEEDED"


def test_a_distributed_map_is_one_line_in_and_one_out() -> None:
    history = History().add("ExecutionStarted", 0).enter("EvaluateChunks", 6.3, "MapStateEntered")
    history.add("MapStateStarted", 6.3).add("MapRunStarted", 6.3)
    lines, progress = poll(RunProgress("[openai]"), history, {"status": "EVALUATING", "evaluation_chunks": 7})
    assert lines == ["  [openai]   +6.3s  EvaluateChunks          run EVALUATING; evaluation in 7 chunk(s)"]
    history.add("MapRunSucceeded", 7.0).add("MapStateSucceeded", 7.0).add("MapStateExited", 7.0, "EvaluateChunks")
    history.enter("AggregateEvaluation", 7.0)
    lines, _ = poll(progress, history, {"status": "EVALUATING", "evaluation_chunks": 7})
    assert lines == [
        "  [openai]   +7.0s  EvaluateChunks ended (map run succeeded)",
        "  [openai]   +7.0s  AggregateEvaluation",
    ]


def test_an_inline_maps_children_are_counted_not_listed() -> None:
    history = History().add("ExecutionStarted", 0).enter("EvaluateChunks", 1.0, "MapStateEntered")
    for index in range(5):
        history.add("MapIterationStarted", 1.1 + index)
        history.enter("EvaluateChunk", 1.2 + index)
        history.add("MapIterationFailed" if index == 3 else "MapIterationSucceeded", 1.5 + index)
    history.add("MapStateExited", 7.0, "EvaluateChunks").enter("AggregateEvaluation", 7.1)
    lines, progress = poll(RunProgress("[openai]"), history, None)
    assert lines == [
        "  [openai]   +1.0s  EvaluateChunks",
        "  [openai]   +7.0s  EvaluateChunks ended (iterations: 1 failed, 4 succeeded)",
        "  [openai]   +7.1s  AggregateEvaluation",
    ]
    assert "EvaluateChunk" not in progress.entries and progress.in_map is None


def test_a_wait_loop_does_not_flood() -> None:
    history = History().add("ExecutionStarted", 0)
    for loop in range(25):
        history.enter("IsModelServed", 10 * loop, "ChoiceStateEntered")
        history.enter("WaitForTunedModel", 10 * loop + 0.1, "WaitStateEntered")
        history.enter("CheckTunedModel", 10 * loop + 9.9)
    lines, progress = poll(RunProgress("[bedrock]"), history, None)
    shown = [line for line in lines if "IsModelServed" in line]
    assert [re.sub(r"^.*IsModelServed", "IsModelServed", line) for line in shown] == [
        "IsModelServed",
        "IsModelServed (x2)",
        "IsModelServed (x10)",
        "IsModelServed (x20)",
    ]
    assert len(lines) == 12 and progress.entries["CheckTunedModel"] == 25


def test_polls_in_any_grouping_print_the_same_lines() -> None:
    """However the polls fall, each state is printed exactly once (only what is new each time)."""
    history = History().add("ExecutionStarted", 0)
    for index, name in enumerate(["StartExport", "SnapshotExport", "PrepareDataset", "StartFineTune"]):
        history.enter(name, index)
    history.add("ExecutionFailed", 5)
    all_at_once, _ = poll(RunProgress("[x]"), history, None)

    def grouped(size: int) -> Iterator[str]:
        progress, seen = RunProgress("[x]"), History()
        for event in history.events:
            seen.events.append(event)
            if len(seen.events) % size == 0 or event is history.events[-1]:
                lines, progress = poll(progress, seen, None)
                yield from lines

    for size in (1, 2, 3):
        assert list(grouped(size)) == all_at_once
    assert all_at_once[-1] == "  [x]   +5.0s  execution FAILED"


def test_facts_carry_codes_and_counts_never_messages_or_chat_text() -> None:
    run = {
        "status": "FAILED",
        "error": "FineTuneFailed",
        "error_message": "the provider said: 'Jane Roe <jane@example.com> called about order 123'",
        "job_status": "failed",
    }
    facts = run_facts(run)
    assert facts == {"status": "run FAILED", "job": "job failed", "error": "error FineTuneFailed"}
    history = History().add("ExecutionStarted", 0).enter("PrepareDataset", 1)
    lines, _ = poll(RunProgress("[openai]"), history, run)
    assert not any("example.com" in line or "must never be shown" in line for line in lines)
    assert run_facts(None) == {} and run_facts({}) == {}
