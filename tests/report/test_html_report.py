"""The report page: self-contained (loads nothing), every untrusted text escaped, leaked PII marked, the charts
inline, the gate's verdict as recorded, and a bounded number of examples with the count said."""

from __future__ import annotations

from typing import Any

import pytest

from labeltune.report import ExampleView, OutputView, render_report
from labeltune.report.charts import histogram_svg
from labeltune.report.html_report import MAX_TEXT, highlight
from tests.report.page import parse

CHAT = "Maria Lopez: my order ORD-123456 is late, mail me at maria@example.com or (415) 555-0132.\nAgent Bob: sorry"
HUMAN = "Customer reports a late order and asks for an update."
RUN: dict[str, Any] = {
    "run_id": "run-report-0001",
    "project_id": "clx-project",
    "provider": "openai",
    "base_model": "gpt-4.1-mini-2025-04-14",
    "fine_tuned_model": "ft:gpt-4.1-mini:org:labeltune:abc",
    "status": "SUCCEEDED",
    "created_at": "2026-11-26T10:00:00+00:00",
    "finished_at": "2026-11-26T10:40:00+00:00",
    "rows_read": 1200,
    "train_examples": 900,
    "validation_examples": 100,
    "eval_examples": 150,
    "rejected_rows": 50,
    "rejected_by_reason": {"empty_summary": 30, "too_long": 20},
    "train_tokens": 123456,
    "billable_tokens_estimate": 370368,
    "estimated_cost_usd": 1.1111,
    "evaluation_passed": False,
    "evaluation_findings": ["tuned leak rate 0.2 is above the maximum 0.05"],
}
SUMMARY: dict[str, Any] = {
    "run_id": "run-report-0001",
    "base": {"model": "gpt-4.1-mini-2025-04-14", "examples": 3, "rouge_l": 0.21, "leak_rate": 0.6667},
    "tuned": {"model": "ft:gpt-4.1-mini:org:labeltune:abc", "examples": 3, "rouge_l": 0.52, "leak_rate": 0.3333},
    "passed": False,
    "findings": ["tuned leak rate 0.2 is above the maximum 0.05"],
}
GATE: dict[str, Any] = {
    "passed": False,
    "checks": [
        {"name": "rouge_l", "measured": 0.52, "threshold": 0.3, "passed": True, "margin": 0.22, "reason": None},
        {
            "name": "leak_rate",
            "measured": 0.3333,
            "threshold": 0.05,
            "passed": False,
            "margin": -0.2833,
            "reason": "leak rate 0.3333 is above the maximum 0.05 by 0.2833",
        },
    ],
    "failures": ["leak rate 0.3333 is above the maximum 0.05 by 0.2833"],
    "notes": ["no judge configured"],
}


def output(text: str | None, rouge: float, leaks: dict[str, int] | None = None, error: str | None = None) -> OutputView:
    return OutputView(model="m", output=text, rouge_l=rouge, leaks=leaks or {}, error=error)


def example(row: str, tuned: OutputView, base: OutputView | None = None, chat: str = CHAT) -> ExampleView:
    base = base or output("A customer wrote about an order.", 0.2)
    return ExampleView(data_row_id=row, chat=chat, human_summary=HUMAN, base=base, tuned=tuned)


def test_the_page_loads_nothing_and_escapes_hostile_outputs() -> None:
    hostile = (
        '<script>alert(1)</script><img src="https://evil.example/x.png" onerror="alert(2)">'
        "<link rel=stylesheet href=//evil.example/a.css><style>@import url(https://evil.example/b.css)</style>"
    )
    views = [
        example("row-hostile", output(hostile, 0.1)),
        example("row-hostile-chat", output("fine", 0.5), chat='"><iframe src="https://evil.example"></iframe>'),
    ]
    html = render_report({**RUN, "project_id": "<b>p</b>"}, SUMMARY, views, GATE)
    page = parse(html)
    assert page.external_loads() == []
    assert "script" not in page.tags and "iframe" not in page.tags
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>p</b>" not in html and "&lt;b&gt;p&lt;/b&gt;" in html
    assert hostile in page.all_text  # shown as text, exactly
    # The browser is told so too, should anything slip through.
    assert "default-src 'none'" in html


def test_leaked_pii_of_the_chat_is_marked_in_the_outputs_only() -> None:
    leaky = output("Maria Lopez (maria@example.com, 415-555-0132) says order 123456 is late.", 0.4, {"name": 1})
    html = render_report(RUN, SUMMARY, [example("row-1", leaky)], None)
    page = parse(html)
    # The first mark is the explanation above the examples; the chat itself (its own PII) is not marked.
    assert page.marks == ["highlighted", "Maria Lopez", "maria@example.com", "415-555-0132", "123456"]


def test_highlight_escapes_around_and_inside_the_marks() -> None:
    pii = {"name": {"Tom <Tag>"}, "email": set()}
    assert highlight("a <b> Tom <Tag> & c", pii) == 'a &lt;b&gt; <mark title="name">Tom &lt;Tag&gt;</mark> &amp; c'


def test_sections_carry_the_run_dataset_cost_metrics_and_gate() -> None:
    html = render_report(RUN, SUMMARY, [example("row-1", output("An order is late.", 0.6))], GATE)
    text = parse(html).all_text
    for expected in (
        "run-report-0001",
        "clx-project",
        "openai",
        "ft:gpt-4.1-mini:org:labeltune:abc",
        "SUCCEEDED",
        "2026-11-26T10:40:00+00:00",
        "1,200",  # rows read
        "123,456",  # training tokens
        "370,368",
        "1.1111 USD",
        "empty_summary 30",
        "66.7 %",  # base leak rate
        "33.3 %",
        "leak rate 0.3333 is above the maximum 0.05 by 0.2833",
        "no judge configured",
        "-0.2833",
        "tuned leak rate 0.2 is above the maximum 0.05",  # the thresholds' own findings, beside the gate
    ):
        assert expected in text, expected
    assert "Verdict: did not pass" in text


def test_without_a_gate_the_page_says_so_and_shows_the_thresholds_verdict() -> None:
    text = parse(render_report(RUN, SUMMARY, [], None)).all_text
    assert "No gate recorded." in text
    assert "The project's evaluation thresholds: did not pass" in text
    assert "Shown 0 of 0 held-out examples" in text


def test_the_distributions_are_inline_svg_over_every_example() -> None:
    views = [example(f"row-{i}", output("An order.", i / 10, {"email": 1} if i == 3 else {})) for i in range(10)]
    views.append(example("row-error", output(None, 0.0, error="BadRequestError")))
    html = render_report(RUN, SUMMARY, views, None, limit=2)
    page = parse(html)
    assert page.tags.count("svg") == 2 and page.tags.count("rect") > 20
    assert "ROUGE-L per answered example" in page.all_text and "PII values repeated per answered example" in html
    # Charts count all 11 examples though only 2 are shown; the error is said, not charted.
    assert "Over all 11 held-out examples" in page.all_text and "tuned: 1" in page.all_text
    assert "Shown 2 of 11 held-out examples (1 tuned output(s) leak PII)" in page.all_text


def test_at_most_limit_examples_are_shown_leaks_first_then_the_lowest_then_a_sample() -> None:
    views = [example(f"row-{i:03d}", output("An order.", (i % 97) / 100)) for i in range(300)]
    views[250] = example("row-leaks", output("Maria wrote.", 0.9, {"name": 1}))
    html = render_report(RUN, SUMMARY, iter(views), None, limit=7)
    page = parse(html)
    assert page.tags.count("article") == 7
    assert "Shown 7 of 300 held-out examples" in page.all_text
    cards = html[html.index('id="example-1"') :]
    assert cards.index("row-leaks") < cards.index("among the lowest tuned ROUGE-L") < cards.index("sample")
    # Half the rest the lowest tuned ROUGE-L (0.0: rows 0, 97, 194; then 0.01: row 1), half a sample.
    lowest = [row for row in ("row-000", "row-097", "row-194", "row-001") if row in cards]
    assert lowest == ["row-000", "row-097", "row-194"] and cards.index("row-194") < cards.index("sample")
    assert cards.count("deterministic sample") == 3


def test_long_texts_are_cut_and_said_to_be() -> None:
    long = "x" * (MAX_TEXT + 25)
    text = parse(render_report(RUN, SUMMARY, [example("row-1", output(long, 0.1))], None)).all_text
    assert "(25 more characters not shown)" in text


def test_an_unanswered_example_says_why() -> None:
    view = example("row-1", output(None, 0.0, error="BadRequestError"))
    assert "no answer: BadRequestError" in parse(render_report(RUN, SUMMARY, [view], None)).all_text


@pytest.mark.parametrize(
    ("labels", "series"), [([], {"base": []}), (["a", "b"], {"base": [1]})], ids=["no-bins", "mismatch"]
)
def test_a_histogram_refuses_counts_that_do_not_fit_its_bins(labels: list[str], series: dict[str, list[int]]) -> None:
    with pytest.raises(ValueError):
        histogram_svg("t", labels, series, "x")


def test_the_judge_and_its_agreement_are_shown_with_whether_it_gates() -> None:
    from labeltune.report.html_report import render_report

    run = {
        "run_id": "run-1",
        "judge_model": "gpt-4.1-2025-04-14",
        "judge_summary": {"judged": 7, "pass_rate": 0.7143, "criteria_rates": {"faithful": 0.8571}},
        "judge_agreement": {"examples": 40, "overall": {"raw": 0.875, "kappa": 0.7207}, "criteria": {}},
        "judge_trusted": False,
        "judge_findings": ["Cohen's kappa 0.5000 below the required 0.6000"],
    }
    page = render_report(run, {}, [], None)
    judge = page[page.index('<section id="judge">') : page.index("</section>", page.index('<section id="judge">'))]
    assert "71.4 %" in judge and "87.5 %" in judge and "0.7207" in judge and "40 human-labelled" in judge
    assert "not used by the gate (Cohen&#x27;s kappa 0.5000 below the required 0.6000)" in judge
    assert "No judge was asked" in render_report({"run_id": "run-2"}, {}, [], None)
