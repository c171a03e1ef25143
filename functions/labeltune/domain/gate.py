"""The promotion gate: whether a tuned model is good enough to become its project's current model.

Pure: the project's thresholds (`EvaluationThresholds`), the base and tuned models' aggregates and, when one ran,
the LLM judge's result in; a verdict out that says, per threshold, what was measured, what was required and by
how much it passed or failed. A failing run is told which threshold failed and by how much, not just "failed".

A judge is only as good as its agreement with human reviewers: a judge whose measured agreement is below the
configured minimum (or was not measured) does not gate, and the verdict says why it was left out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.models import ModelMetrics
from labeltune.domain.project_config import EvaluationThresholds

CheckName = Literal["evaluated_examples", "rouge_l_gain", "rouge_l", "leak_rate", "error_rate", "judge_pass_rate"]
_DECIMALS = 4  # the metrics' own precision (domain/metrics.py): a difference finer than that is float noise


class JudgeResult(BaseModel):
    """What the LLM judge said of the tuned model, and how far it can be trusted."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    pass_rate: float = Field(ge=0, le=1, description="share of held-out examples the judge passed")
    agreement: float | None = Field(
        None, ge=0, le=1, description="the judge's measured agreement with human verdicts; None: not measured"
    )
    min_agreement: float = Field(ge=0, le=1, description="the agreement the judge needs before it may gate")
    distrust: list[str] = Field(
        default_factory=list,
        description="other reasons it must not gate, from the judge's own check (JudgeConfig.findings: kappa)",
    )

    @property
    def trusted(self) -> bool:
        """An unmeasured judge is not trusted: nothing says it agrees with people."""
        measured = self.agreement is not None and self.agreement >= self.min_agreement
        return measured and not self.distrust


class GateCheck(BaseModel):
    """One threshold, measured: `margin` is positive by how much it passed, negative by how much it failed."""

    model_config = ConfigDict(frozen=True)
    name: CheckName
    measured: float
    threshold: float
    passed: bool
    margin: float
    reason: str | None = Field(None, description="one line saying why it failed; None when it passed")


class GateVerdict(BaseModel):
    """The gate's answer; `failures` holds one line per failed check, `notes` what was left out and why."""

    model_config = ConfigDict(frozen=True)
    passed: bool
    checks: list[GateCheck]
    failures: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def check(self, name: CheckName) -> GateCheck | None:
        return next((check for check in self.checks if check.name == name), None)


_LABELS: dict[CheckName, str] = {
    "evaluated_examples": "evaluated examples",
    "rouge_l_gain": "ROUGE-L gain",
    "rouge_l": "ROUGE-L",
    "leak_rate": "leak rate",
    "error_rate": "error rate",
    "judge_pass_rate": "judge pass rate",
}


def _at_least(name: CheckName, measured: float, threshold: float) -> GateCheck:
    margin = round(measured - threshold, _DECIMALS)
    passed = margin >= 0
    reason = None
    if not passed:
        reason = f"{_LABELS[name]} {measured:.4f} below the required {threshold:.4f} (short by {-margin:.4f})"
    return GateCheck(name=name, measured=measured, threshold=threshold, passed=passed, margin=margin, reason=reason)


def _at_most(name: CheckName, measured: float, threshold: float) -> GateCheck:
    margin = round(threshold - measured, _DECIMALS)
    passed = margin >= 0
    reason = None
    if not passed:
        reason = f"{_LABELS[name]} {measured:.4f} above the allowed {threshold:.4f} (over by {-margin:.4f})"
    return GateCheck(name=name, measured=measured, threshold=threshold, passed=passed, margin=margin, reason=reason)


def _examples_check(tuned: ModelMetrics) -> GateCheck:
    """A model evaluated on nothing has passed nothing: its zero leak and error rates mean no data."""
    passed = tuned.examples >= 1
    return GateCheck(
        name="evaluated_examples",
        measured=float(tuned.examples),
        threshold=1.0,
        passed=passed,
        margin=float(tuned.examples - 1),
        reason=None if passed else "no held-out example was evaluated",
    )


def _judge_check(thresholds: EvaluationThresholds, judge: JudgeResult | None) -> tuple[GateCheck | None, str | None]:
    """The judge's check, or why it is left out (a note). No threshold: the judge is informational only."""
    required = thresholds.min_judge_pass_rate
    if required is None:
        return None, None
    if judge is None:
        return None, "judge pass rate not checked: no judge result for this run"
    if judge.agreement is None:
        return None, "judge pass rate not used: the judge's agreement with human verdicts was not measured"
    if judge.agreement < judge.min_agreement:
        return None, (
            f"judge pass rate not used: the judge's agreement with human verdicts {judge.agreement:.4f} is below "
            f"the required {judge.min_agreement:.4f}"
        )
    if judge.distrust:
        return None, "judge pass rate not used: " + "; ".join(judge.distrust)
    return _at_least("judge_pass_rate", judge.pass_rate, required), None


def decide(
    thresholds: EvaluationThresholds, base: ModelMetrics, tuned: ModelMetrics, judge: JudgeResult | None = None
) -> GateVerdict:
    """Every configured threshold checked against the tuned model (and, for the gain, the base model)."""
    checks = [_examples_check(tuned)]
    if thresholds.min_rouge_l_gain is not None:
        gain = round(tuned.rouge_l - base.rouge_l, _DECIMALS)
        checks.append(_at_least("rouge_l_gain", gain, thresholds.min_rouge_l_gain))
    checks.append(_at_least("rouge_l", tuned.rouge_l, thresholds.min_rouge_l))
    checks.append(_at_most("leak_rate", tuned.leak_rate, thresholds.max_leak_rate))
    checks.append(_at_most("error_rate", tuned.error_rate, thresholds.max_error_rate))
    judged, note = _judge_check(thresholds, judge)
    if judged is not None:
        checks.append(judged)
    failures = [check.reason for check in checks if check.reason is not None]
    return GateVerdict(passed=not failures, checks=checks, failures=failures, notes=[note] if note else [])
