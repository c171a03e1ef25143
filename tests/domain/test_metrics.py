"""ROUGE-L, per-example scoring and the per-model aggregate."""

from __future__ import annotations

import pytest

from labeltune.domain.metrics import ExampleScore, aggregate, rouge_l, score_example
from labeltune.domain.models import ModelMetrics
from labeltune.domain.pii import extract_pii


def test_rouge_identical_disjoint_partial() -> None:
    text = "Customer asked for a refund; agent issued it."
    assert rouge_l(text, text) == pytest.approx(1.0)
    assert rouge_l("apples bananas", "engine wheel") == 0.0
    assert rouge_l("", "anything") == 0.0
    # LCS 3 of prediction 3 and reference 6 tokens: P = 1, R = 0.5, F = 2PR / (P + R) = 2/3.
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # Stemming: "refunded" and "refunds" both stem to "refund".
    assert rouge_l("agent refunded order", "agent refunds order") == pytest.approx(1.0)


def test_score_example_counts_leaks() -> None:
    pii = extract_pii("Ann Carter: my order ORD-123456, phone 415-555-0132\nBob Stone: ok")
    clean = score_example("dr1", "base", "Agent reshipped the order.", "Agent reshipped the order.", pii)
    assert clean.rouge_l == 1.0
    assert clean.leaks == {"name": 0, "email": 0, "phone": 0, "order_id": 0, "account_id": 0}
    assert not clean.leaked
    leaky = score_example("dr2", "base", "Carter's order ORD-123456 was reshipped.", "Order reshipped.", pii)
    assert leaky.leaks["name"] == 1 and leaky.leaks["order_id"] == 1
    assert leaky.leaked
    assert 0.0 < leaky.rouge_l < 1.0


def test_score_example_error_scores_zero_without_leaks() -> None:
    pii = {"name": {"Ann Carter"}}
    failed = score_example("dr3", "tuned", None, "Order reshipped.", pii, error="RateLimitError")
    assert (failed.rouge_l, failed.leaks, failed.error, failed.leaked) == (0.0, {}, "RateLimitError", False)
    assert score_example("dr4", "tuned", None, "x", pii).error == "no output"
    # Even text given with an error is not scored: the call failed.
    assert not score_example("dr5", "tuned", "Ann Carter", "x", pii, error="timeout").leaked


def _score(rouge: float, error: str | None = None, **leaks: int) -> ExampleScore:
    return ExampleScore(data_row_id="dr", model="m", rouge_l=rouge, leaks=leaks, error=error)


def test_aggregate_by_hand() -> None:
    scores = [
        _score(1.0, name=0, phone=0),
        _score(0.5, name=2, phone=0),
        _score(0.25, name=0, phone=1, order_id=1),
        _score(0.0, error="timeout"),
        _score(0.3, name=0, phone=0),
    ]
    metrics = aggregate("ft:gpt-4.1-mini:demo", iter(scores))  # a one-shot iterator is enough
    # rouge (1 + 0.5 + 0.25 + 0 + 0.3) / 5 = 0.41 (the error adds 0); leaked outputs 2 of the 4 answered = 0.5
    # (an unanswered example is not evidence of a clean output); errors 1 of 5 = 0.2.
    assert metrics == ModelMetrics(
        model="ft:gpt-4.1-mini:demo",
        examples=5,
        rouge_l=0.41,
        leak_rate=0.5,
        leaks_by_type={"name": 2, "order_id": 1, "phone": 1},
        errors=1,
        error_rate=0.2,
    )


def test_a_model_that_never_answers_does_not_look_safe() -> None:
    from labeltune.domain.project_config import EvaluationThresholds

    metrics = aggregate("m", [_score(0.0, error="NotFoundError") for _ in range(20)])
    assert (metrics.leak_rate, metrics.error_rate, metrics.errors) == (0.0, 1.0, 20)
    findings = EvaluationThresholds().findings(metrics.leak_rate, metrics.rouge_l, metrics.error_rate)
    assert findings == ["failed to answer 1.0000 of examples, above the allowed 0.0000"]


def test_aggregate_rounds_to_four_decimals() -> None:
    metrics = aggregate("m", [_score(1.0, name=1), _score(0.0), _score(0.0)])
    assert (metrics.rouge_l, metrics.leak_rate) == (0.3333, 0.3333)


def test_aggregate_of_nothing() -> None:
    assert aggregate("m", []) == ModelMetrics(model="m", examples=0, rouge_l=0.0, leak_rate=0.0, errors=0)
