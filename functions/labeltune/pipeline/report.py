"""Write the run's report (`runs/<run>/report.html`) from its record and its evaluation's files.

The held-out set can hold 10,000 examples, each with a chat: memory stays bounded by the examples shown, not by
the run. The scores (examples.jsonl) are read once to choose what to show and count the distributions, once more
for the chosen examples' answers; then the chats and human summaries of those examples alone are taken from
eval.jsonl. Nothing of the texts is logged or put on the run record: only the report's key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from labeltune.pipeline.prepare import dataset_key
from labeltune.ports import ObjectStore, RunStore
from labeltune.report import DEFAULT_LIMIT, ExampleSelector, ExampleView, OutputView, Selection, render_report

CONTENT_TYPE = "text/html; charset=utf-8"
LINK_SECONDS = 15 * 60  # how long a link handed out by GET /runs/{id}/report works


def report_key(run_id: str) -> str:
    return f"runs/{run_id}/report.html"


def summary_key(run_id: str) -> str:
    return f"runs/{run_id}/evaluation/summary.json"


def results_key(run_id: str) -> str:
    return f"runs/{run_id}/evaluation/examples.jsonl"


def write_report(
    run_id: str,
    store: ObjectStore,
    runs: RunStore,
    gate: Mapping[str, Any] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> str:
    """Render the run's report, store it (text/html) and record `report_key` on the run; returns the key.

    `gate` is the gate's verdict (domain/gate.py's GateVerdict as a dict); without one, the run record's `gate`
    attribute when it holds one. Raises KeyError for an unknown run, ValueError for an evaluation file that is
    not what the evaluation writes."""
    run = runs.get_run(run_id)
    if run is None:
        raise KeyError(f"no run {run_id!r}")
    summary = store.get_json(summary_key(run_id))
    if not isinstance(summary, Mapping):
        raise ValueError("the evaluation summary is not a JSON object")
    results = str(summary.get("results_key") or results_key(run_id))
    selection = choose_examples(_records(store.read_lines(results)), limit)
    wanted = {data_row_id for _, data_row_id in selection.shown}
    answers = chosen_answers(_records(store.read_lines(results)), wanted)
    texts = chosen_texts(store.read_lines(dataset_key(run_id, "eval.jsonl")), wanted)
    views = [
        ExampleView(row, *texts[row], base=answers.get(row, {}).get("base"), tuned=answers.get(row, {}).get("tuned"))
        for row in wanted
        if row in texts
    ]
    recorded = run.get("gate")
    if gate is None and isinstance(recorded, Mapping):
        gate = recorded
    page = render_report(run, summary, views, gate, selection=selection)
    key = report_key(run_id)
    store.put_text(key, page, CONTENT_TYPE)
    runs.update_run(run_id, report_key=key)
    return key


def choose_examples(records: Iterable[Mapping[str, Any]], limit: int = DEFAULT_LIMIT) -> Selection[str]:
    """The data row ids to show and the score distributions, from the evaluation's records in one pass: every
    answer counts toward its model's distribution, each tuned answer puts its example up for showing."""
    selector: ExampleSelector[str] = ExampleSelector(limit)
    for record in records:
        role, output = str(record.get("role")), OutputView.from_record(record)
        selector.count(role, output)
        if role == "tuned":
            row = _data_row_id(record)
            selector.add(row, output, row)
    return selector.selection()


def chosen_answers(records: Iterable[Mapping[str, Any]], wanted: set[str]) -> dict[str, dict[str, OutputView]]:
    """The base and tuned answers of the chosen examples only."""
    answers: dict[str, dict[str, OutputView]] = {}
    for record in records:
        row = _data_row_id(record)
        if row in wanted:
            answers.setdefault(row, {})[str(record.get("role"))] = OutputView.from_record(record)
    return answers


def chosen_texts(lines: Iterable[str], wanted: set[str]) -> dict[str, tuple[str, str]]:
    """(chat, human summary) of the chosen examples, from eval.jsonl's chat lines (the user message is the chat,
    the assistant message the human summary)."""
    texts: dict[str, tuple[str, str]] = {}
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        row = _data_row_id(record)
        if row not in wanted:
            continue
        messages = record.get("messages")
        if not isinstance(messages, list):
            raise ValueError("an eval.jsonl line has no messages list")
        by_role = {m.get("role"): m.get("content") for m in messages if isinstance(m, Mapping)}
        texts[row] = (str(by_role.get("user") or ""), str(by_role.get("assistant") or ""))
        if len(texts) == len(wanted):
            break
    return texts


def _records(lines: Iterable[str]) -> Iterable[Mapping[str, Any]]:
    for line in lines:
        if line.strip():
            record = json.loads(line)
            if not isinstance(record, Mapping):
                raise ValueError("an evaluation line is not a JSON object")
            yield record


def _data_row_id(record: Mapping[str, Any]) -> str:
    row = record.get("data_row_id")
    if not isinstance(row, str) or not row:
        raise ValueError("an evaluation line has no data_row_id")
    return row
