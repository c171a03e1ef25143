"""Writing a run's report from its files: each example's texts and answers joined by data row id, memory bounded
by the examples shown, and a report that cannot be written never failing the run it reports on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from labeltune.clock import fixed_clock
from labeltune.domain.models import RunStatus
from labeltune.pipeline.outcome import record_outcome
from labeltune.pipeline.report import CONTENT_TYPE, chosen_texts, report_key, write_report
from tests.fakes import InMemoryObjectStore, InMemoryRunStore
from tests.report.page import parse

RUN = "run-report-test"
CLOCK = fixed_clock("2026-11-26T10:00:00+00:00")


def chat_line(row: str) -> str:
    messages = [
        {"role": "system", "content": "Summarise without personal data."},
        {"role": "user", "content": f"Dana Whitfield: chat of {row}, mail dana@example.com"},
        {"role": "assistant", "content": f"human summary of {row}"},
    ]
    return json.dumps({"data_row_id": row, "messages": messages})


def answer(row: str, role: str, rouge: float, text: str, leaks: int = 0) -> str:
    record = {
        "role": role,
        "output": text,
        "data_row_id": row,
        "model": f"{role}-model",
        "rouge_l": rouge,
        "leaks": {"email": leaks},
        "error": None,
    }
    return json.dumps(record)


def evaluated_run(examples: int, leaking: frozenset[int] = frozenset()) -> tuple[InMemoryObjectStore, InMemoryRunStore]:
    """A run whose evaluation wrote its files: the base answers first, then the tuned ones in reverse order, so
    only the data row id can join them."""
    store, runs = InMemoryObjectStore(), InMemoryRunStore(clock=CLOCK)
    rows = [f"row-{i:05d}" for i in range(examples)]
    runs.create_run(RUN, "project-1", status="EVALUATING", provider="openai", evaluation_uri="memory://x")
    store.put_lines(f"runs/{RUN}/dataset/eval.jsonl", (chat_line(row) for row in rows))
    base = [answer(row, "base", 0.1, f"base answer for {row}") for row in rows]
    tuned = [
        answer(row, "tuned", (i % 100) / 100, f"tuned answer for {row}" + (" dana@example.com" if i in leaking else ""),
               leaks=1 if i in leaking else 0)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    store.put_lines(f"runs/{RUN}/evaluation/examples.jsonl", [*base, *reversed(tuned)])
    summary = {
        "run_id": RUN,
        "base": {"model": "base-model", "examples": examples, "rouge_l": 0.1, "leak_rate": 0.0},
        "tuned": {"model": "tuned-model", "examples": examples, "rouge_l": 0.5, "leak_rate": len(leaking) / examples},
        "results_key": f"runs/{RUN}/evaluation/examples.jsonl",
        "summary_key": f"runs/{RUN}/evaluation/summary.json",
        "passed": True,
        "findings": [],
    }
    store.put_json(f"runs/{RUN}/evaluation/summary.json", summary)
    return store, runs


def test_the_report_is_stored_as_html_and_its_key_recorded() -> None:
    store, runs = evaluated_run(12, leaking=frozenset({3}))
    key = write_report(RUN, store, runs, gate={"passed": True, "checks": []})
    assert key == report_key(RUN) == f"runs/{RUN}/report.html"
    assert store.content_types[key] == CONTENT_TYPE == "text/html; charset=utf-8"
    assert (runs.get_run(RUN) or {})["report_key"] == key
    page = parse(store.read_text(key))
    assert page.external_loads() == []
    assert "Shown 12 of 12 held-out examples (1 tuned output(s) leak PII)" in page.all_text
    assert "Verdict: passed" in page.all_text
    assert page.marks[1:] == ["dana@example.com"]  # the leak of row 3, in its tuned answer


def test_each_example_gets_its_own_chat_summary_and_answers() -> None:
    store, runs = evaluated_run(40)
    html = store.read_text(write_report(RUN, store, runs))
    articles = html.split('<article class="example"')[1:]
    assert len(articles) == 40
    for article in articles:
        row = article.split("data row ", 1)[1].split(" ", 1)[0]
        for text in (f"chat of {row}", f"human summary of {row}", f"base answer for {row}", f"tuned answer for {row}"):
            assert text in article, (row, text)


def test_a_large_run_shows_the_limit_keeping_the_texts_of_the_shown_examples_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from labeltune.pipeline import report

    store, runs = evaluated_run(3000, leaking=frozenset({10, 2000}))
    kept: list[int] = []

    def recording(lines: Iterator[str], wanted: set[str]) -> dict[str, tuple[str, str]]:
        texts = chosen_texts(lines, wanted)
        kept.append(len(texts))
        return texts

    monkeypatch.setattr(report, "chosen_texts", recording)
    html = store.read_text(write_report(RUN, store, runs, limit=25))
    page = parse(html)
    assert kept == [25]  # of 3,000 chats, only the shown ones are held
    assert "Shown 25 of 3,000 held-out examples (2 tuned output(s) leak PII)" in page.all_text
    assert page.tags.count("article") == 25
    assert html.index("row-00010") < html.index("among the lowest tuned ROUGE-L")  # the leaks first
    assert "Over all 3,000 held-out examples" in page.all_text  # the charts count every example


def test_chosen_texts_keeps_only_the_wanted_rows() -> None:
    lines = [chat_line(f"row-{i}") for i in range(100)]
    texts = chosen_texts(lines, {"row-7", "row-42", "row-missing"})
    assert set(texts) == {"row-7", "row-42"}
    assert texts["row-7"] == ("Dana Whitfield: chat of row-7, mail dana@example.com", "human summary of row-7")


def test_a_run_that_does_not_exist_or_a_broken_file_is_a_clear_error() -> None:
    store, runs = evaluated_run(3)
    with pytest.raises(KeyError, match="no run"):
        write_report("run-nobody-started", store, runs)
    store.put_lines(f"runs/{RUN}/evaluation/examples.jsonl", ['{"role": "tuned", "rouge_l": 0.1}'])
    with pytest.raises(ValueError, match="data_row_id"):
        write_report(RUN, store, runs)


def test_a_succeeded_run_with_an_evaluation_gets_its_report_when_it_is_recorded() -> None:
    store, runs = evaluated_run(5)
    result = record_outcome(RUN, RunStatus.SUCCEEDED, runs, CLOCK, store=store)
    assert result["report_key"] == report_key(RUN)
    assert "SUCCEEDED" in parse(store.read_text(report_key(RUN))).all_text  # written after the status is final


@pytest.mark.parametrize("outcome", [RunStatus.FAILED, RunStatus.SUCCEEDED])
def test_no_report_for_a_failed_run_or_one_never_evaluated(outcome: RunStatus) -> None:
    store, runs = evaluated_run(5)
    if outcome is RunStatus.SUCCEEDED:
        runs.items[RUN].pop("evaluation_uri")
    result = record_outcome(RUN, outcome, runs, CLOCK, store=store)
    assert "report_key" not in result and report_key(RUN) not in store.objects


def test_a_report_that_cannot_be_written_leaves_the_run_succeeded_with_the_errors_class() -> None:
    store, runs = evaluated_run(5)
    store.objects.pop(f"runs/{RUN}/dataset/eval.jsonl")  # KeyError, the fake's NoSuchKey
    result: dict[str, Any] = record_outcome(RUN, RunStatus.SUCCEEDED, runs, CLOCK, store=store)
    run = runs.get_run(RUN) or {}
    assert run["status"] == "SUCCEEDED" and result["status"] == "SUCCEEDED"
    assert run["report_error"] == result["report_error"] == "KeyError"
    assert "report_key" not in run
