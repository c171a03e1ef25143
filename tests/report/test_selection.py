"""Choosing the examples a report shows: bounded memory over a stream, a stable choice, the right priorities."""

from __future__ import annotations

import random

import pytest

from labeltune.report import ExampleSelector, OutputView, Reason
from labeltune.report.selection import Distribution


def tuned(rouge: float, leaks: int = 0, error: str | None = None) -> OutputView:
    return OutputView(model="tuned", output=None if error else "x", rouge_l=rouge, leaks={"name": leaks}, error=error)


def test_memory_stays_bounded_by_the_limit_however_long_the_stream() -> None:
    selector: ExampleSelector[str] = ExampleSelector(limit=20)
    generator = random.Random(7)
    most = 0
    for i in range(10_000):
        row = f"row-{i}"
        selector.add(row, tuned(generator.random(), leaks=1 if i % 50 == 0 else 0), row)
        most = max(most, selector.held)
    assert most <= 3 * 20
    selection = selector.selection()
    assert selection.total == 10_000 and selection.leaking == 200 and len(selection.shown) == 20
    assert {reason for reason, _ in selection.shown} == {Reason.LEAK}  # 200 leaks fill all 20 places


def test_leaks_first_most_leaks_first_then_lowest_then_sample_without_repeats() -> None:
    selector: ExampleSelector[str] = ExampleSelector(limit=6)
    outputs = {
        "a": tuned(0.9, leaks=1),
        "b": tuned(0.5, leaks=3),
        "c": tuned(0.1),
        "d": tuned(0.0, error="BadRequestError"),  # unanswered: among the worst, not a leak
        "e": tuned(0.2),
        "f": tuned(0.8),
        "g": tuned(0.7),
    }
    for row, output in outputs.items():
        selector.add(row, output, row)
    shown = selector.selection().shown
    assert shown[:2] == [(Reason.LEAK, "b"), (Reason.LEAK, "a")]
    assert shown[2:4] == [(Reason.LOW_ROUGE, "d"), (Reason.LOW_ROUGE, "c")]
    sample = [row for reason, row in shown[4:]]
    assert len(sample) == 2 and set(sample) <= {"e", "f", "g"}
    assert len({row for _, row in shown}) == 6


def test_the_same_examples_are_chosen_whatever_the_order_they_come_in() -> None:
    rows = [(f"row-{i}", tuned(round(i % 13 / 13, 4))) for i in range(500)]

    def chosen(order: list[tuple[str, OutputView]]) -> list[tuple[Reason, str]]:
        selector: ExampleSelector[str] = ExampleSelector(limit=30)
        for row, output in order:
            selector.add(row, output, row)
        return selector.selection().shown

    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert chosen(rows) == chosen(shuffled)


def test_fewer_examples_than_the_limit_are_all_shown_once() -> None:
    selector: ExampleSelector[str] = ExampleSelector(limit=200)
    for i in range(5):
        selector.add(f"row-{i}", tuned(i / 5), f"row-{i}")
    assert sorted(row for _, row in selector.selection().shown) == [f"row-{i}" for i in range(5)]


def test_the_distribution_bins_answers_and_counts_errors_apart() -> None:
    distribution = Distribution()
    for output in (tuned(0.0), tuned(0.05), tuned(0.95), tuned(1.0, leaks=2), tuned(0.3, leaks=9)):
        distribution.add(output)
    distribution.add(tuned(0.0, error="Timeout"))
    assert distribution.rouge_bins == [2, 0, 0, 1, 0, 0, 0, 0, 0, 2]
    assert distribution.leak_bins == [3, 0, 1, 0, 1]
    assert (distribution.answered, distribution.errors) == (5, 1)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ExampleSelector(limit=0)
