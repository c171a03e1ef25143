"""The promotion gate: each threshold checked with its margin, and a judge that is not trusted left out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from labeltune.domain.gate import JudgeResult, decide
from labeltune.domain.models import ModelMetrics
from labeltune.domain.project_config import EvaluationThresholds, ProjectConfig


def metrics(rouge_l: float, leak_rate: float = 0.0, error_rate: float = 0.0, examples: int = 100) -> ModelMetrics:
    return ModelMetrics(model="m", examples=examples, rouge_l=rouge_l, leak_rate=leak_rate, error_rate=error_rate)


BASE = metrics(0.30)
STRICT = EvaluationThresholds(
    max_leak_rate=0.05, min_rouge_l=0.3, max_error_rate=0.02, min_rouge_l_gain=0.05, min_judge_pass_rate=0.8
)
TRUSTED = JudgeResult(pass_rate=0.9, agreement=0.85, min_agreement=0.8)


def test_a_model_that_meets_every_threshold_passes_with_its_margins() -> None:
    verdict = decide(STRICT, BASE, metrics(0.40, leak_rate=0.01, error_rate=0.0), TRUSTED)
    assert verdict.passed and verdict.failures == [] and verdict.notes == []
    margins = {check.name: check.margin for check in verdict.checks}
    assert margins == {
        "evaluated_examples": 99.0,
        "rouge_l_gain": 0.05,
        "rouge_l": 0.1,
        "leak_rate": 0.04,
        "error_rate": 0.02,
        "judge_pass_rate": 0.1,
    }
    assert all(check.passed and check.reason is None for check in verdict.checks)


def test_the_gain_is_compared_at_the_metrics_precision_not_float_noise() -> None:
    """0.35 - 0.30 is 0.04999999999999999 in floats: a model exactly 0.05 better passes a 0.05 requirement."""
    verdict = decide(EvaluationThresholds(min_rouge_l_gain=0.05), metrics(0.30), metrics(0.35))
    gain = verdict.check("rouge_l_gain")
    assert gain is not None and gain.passed and gain.measured == 0.05 and gain.margin == 0.0


@pytest.mark.parametrize(
    ("tuned", "judge", "name", "margin", "reason"),
    [
        (
            metrics(0.312),
            TRUSTED,
            "rouge_l_gain",
            -0.038,
            "ROUGE-L gain 0.0120 below the required 0.0500 (short by 0.0380)",
        ),
        (
            metrics(0.28),
            TRUSTED,
            "rouge_l",
            -0.02,
            "ROUGE-L 0.2800 below the required 0.3000 (short by 0.0200)",
        ),
        (
            metrics(0.40, leak_rate=0.12),
            TRUSTED,
            "leak_rate",
            -0.07,
            "leak rate 0.1200 above the allowed 0.0500 (over by 0.0700)",
        ),
        (
            metrics(0.40, error_rate=0.03),
            TRUSTED,
            "error_rate",
            -0.01,
            "error rate 0.0300 above the allowed 0.0200 (over by 0.0100)",
        ),
        (
            metrics(0.40),
            JudgeResult(pass_rate=0.7, agreement=0.9, min_agreement=0.8),
            "judge_pass_rate",
            -0.1,
            "judge pass rate 0.7000 below the required 0.8000 (short by 0.1000)",
        ),
    ],
    ids=["gain", "rouge", "leaks", "errors", "judge"],
)
def test_each_failing_threshold_says_by_how_much(
    tuned: ModelMetrics, judge: JudgeResult, name: str, margin: float, reason: str
) -> None:
    base = metrics(0.20) if name == "rouge_l" else BASE  # a low floor alone: the gain still passes
    verdict = decide(STRICT, base, tuned, judge)
    assert not verdict.passed
    failed = [check for check in verdict.checks if not check.passed]
    assert [(c.name, c.margin, c.reason) for c in failed] == [(name, margin, reason)]
    assert verdict.failures == [reason]


def test_several_failures_are_each_reported() -> None:
    verdict = decide(STRICT, BASE, metrics(0.10, leak_rate=0.5, error_rate=0.5), TRUSTED)
    assert [c.name for c in verdict.checks if not c.passed] == ["rouge_l_gain", "rouge_l", "leak_rate", "error_rate"]
    assert len(verdict.failures) == 4


@pytest.mark.parametrize(
    ("judge", "note"),
    [
        (
            JudgeResult(pass_rate=0.1, agreement=0.6, min_agreement=0.8),
            "judge pass rate not used: the judge's agreement with human verdicts 0.6000 is below the required 0.8000",
        ),
        (
            JudgeResult(pass_rate=0.1, agreement=None, min_agreement=0.8),
            "judge pass rate not used: the judge's agreement with human verdicts was not measured",
        ),
        (
            JudgeResult(pass_rate=0.1, agreement=0.9, min_agreement=0.8, distrust=["Cohen's kappa 0.4000 below 0.6"]),
            "judge pass rate not used: Cohen's kappa 0.4000 below 0.6",
        ),
        (None, "judge pass rate not checked: no judge result for this run"),
    ],
    ids=["disagrees-with-people", "unmeasured", "kappa-too-low", "no-judge"],
)
def test_a_judge_that_is_not_trusted_does_not_gate_and_the_verdict_says_why(
    judge: JudgeResult | None, note: str
) -> None:
    verdict = decide(STRICT, BASE, metrics(0.40), judge)
    assert verdict.passed  # a pass rate of 0.1 would have failed it
    assert verdict.check("judge_pass_rate") is None
    assert verdict.notes == [note]


def test_without_a_judge_threshold_the_judge_is_informational() -> None:
    thresholds = EvaluationThresholds(min_judge_pass_rate=None)
    verdict = decide(thresholds, BASE, metrics(0.40), JudgeResult(pass_rate=0.0, agreement=1.0, min_agreement=0.8))
    assert verdict.passed and verdict.check("judge_pass_rate") is None and verdict.notes == []


def test_by_default_a_model_worse_than_the_base_model_fails_and_none_turns_the_comparison_off() -> None:
    worse = metrics(0.29)
    failed = decide(EvaluationThresholds(), BASE, worse)
    assert not failed.passed
    assert failed.failures == ["ROUGE-L gain -0.0100 below the required 0.0000 (short by 0.0100)"]
    assert decide(EvaluationThresholds(min_rouge_l_gain=None), BASE, worse).passed
    assert decide(EvaluationThresholds(min_rouge_l_gain=-0.02), BASE, worse).passed  # a tolerated loss


def test_a_model_evaluated_on_nothing_fails() -> None:
    verdict = decide(EvaluationThresholds(), metrics(0.0, examples=0), metrics(0.0, examples=0))
    assert not verdict.passed and verdict.failures == ["no held-out example was evaluated"]


def test_the_verdict_round_trips_as_json_for_the_run_record() -> None:
    verdict = decide(STRICT, BASE, metrics(0.312), TRUSTED)
    assert type(verdict).model_validate_json(verdict.model_dump_json()) == verdict


@pytest.mark.parametrize(
    "evaluation",
    [{"min_rouge_l_gain": 1.5}, {"min_rouge_l_gain": -2}, {"min_judge_pass_rate": 1.1}, {"min_judge_pass_rate": -0.1}],
)
def test_thresholds_out_of_bounds_are_refused(evaluation: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ProjectConfig.model_validate({"evaluation": evaluation})


def test_a_stored_configuration_without_the_new_thresholds_still_loads_with_their_defaults() -> None:
    config = ProjectConfig.model_validate({"evaluation": {"max_leak_rate": 0.1}})
    assert config.evaluation.min_rouge_l_gain == 0.0 and config.evaluation.min_judge_pass_rate is None
    assert config.evaluation.findings(0.05, 0.2) == []  # the evaluation's own findings are unchanged


def test_judge_results_are_bounded() -> None:
    with pytest.raises(ValidationError):
        JudgeResult(pass_rate=1.5, agreement=0.9, min_agreement=0.8)
