"""Scoring a model's summaries: closeness to the human summary (ROUGE-L) and PII leaks.

Hosted OpenAI Evals are gone, so evaluation runs in our own code; both measures work offline and inside
a Lambda. Pure: no AWS, no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

from pydantic import BaseModel, Field

from labeltune.domain.models import ModelMetrics
from labeltune.domain.pii import find_leaks

_DECIMALS = 4
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"^[a-z0-9]+$")


@cache
def _stem() -> Callable[[str], str]:
    # NLTK's Porter stemmer in its default mode (NLTK_EXTENSIONS), the one rouge-score uses. Imported on first
    # use: cold starts that never score (most of the pipeline's Lambdas) should not pay for nltk.
    from nltk.stem.porter import PorterStemmer

    stem: Callable[[str], str] = PorterStemmer().stem
    return stem


def _tokens(text: str) -> list[str]:
    """rouge-score's default tokenizer with its stemmer (rouge_score/tokenize.py): lowercase, every run of
    characters other than a-z and 0-9 separates tokens, and tokens longer than 3 characters are stemmed."""
    stem = _stem()
    words = _NOT_ALPHANUMERIC.sub(" ", text.lower()).split()
    return [token for token in (stem(w) if len(w) > 3 else w for w in words) if _TOKEN.match(token)]


def _lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming, one row at a time)."""
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for j, other in enumerate(second, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence, Porter-stemmed): 1.0 identical, 0.0 disjoint.

    Exactly rouge-score's `RougeScorer(["rougeL"], use_stemmer=True).score(reference, prediction)` F-measure,
    float for float (tests/infra/test_rouge_reference.py compares the two), without its numpy and absl-py.
    """
    predicted, target = _tokens(prediction), _tokens(reference)
    if not predicted or not target:
        return 0.0
    common = _lcs_length(target, predicted)
    precision = common / len(predicted)
    recall = common / len(target)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


class ExampleScore(BaseModel):
    """One model's answer to one held-out example, scored. Holds numbers, never the text itself."""

    data_row_id: str
    model: str
    rouge_l: float
    leaks: dict[str, int] = Field(default_factory=dict, description="Distinct PII values repeated, by type")
    error: str | None = Field(None, description="Why the model gave no answer; the example still counts")

    @property
    def leaked(self) -> bool:
        """True when the output repeats at least one PII value of its source."""
        return self.error is None and any(count > 0 for count in self.leaks.values())


def score_example(
    data_row_id: str,
    model: str,
    output: str | None,
    reference: str,
    pii: Mapping[str, Iterable[str]],
    error: str | None = None,
) -> ExampleScore:
    """Score one output against the human reference and the PII of its source.

    A failed call (error given, or no output) is scored rouge 0 with no leaks, so a model cannot
    improve its leak rate by failing: the failure shows in the error count instead.
    """
    if error is not None or output is None:
        return ExampleScore(data_row_id=data_row_id, model=model, rouge_l=0.0, leaks={}, error=error or "no output")
    return ExampleScore(
        data_row_id=data_row_id,
        model=model,
        rouge_l=round(rouge_l(output, reference), _DECIMALS),
        leaks=find_leaks(output, pii),
    )


def aggregate(model: str, scores: Iterable[ExampleScore]) -> ModelMetrics:
    """Summarise one model's scores in a single pass (scores may be a stream of any length).

    `rouge_l` is the mean over all examples, errored ones adding 0 (a model that cannot answer does not
    summarise). `leak_rate` is the share of *answered* examples whose output leaked: an unanswered example
    says nothing about leaking, and counting it as clean would let a broken model look safe. `error_rate`
    is the share of examples the model failed to answer. `leaks_by_type` sums the per-example counts.
    Floats are rounded to 4 decimals; no examples gives zeros.
    """
    examples = errors = leaked = 0
    rouge_total = 0.0
    leaks_by_type: dict[str, int] = {}
    for score in scores:
        examples += 1
        if score.error is not None:
            errors += 1
            continue
        rouge_total += score.rouge_l
        leaked += score.leaked
        for kind, count in score.leaks.items():
            leaks_by_type[kind] = leaks_by_type.get(kind, 0) + count
    return ModelMetrics(
        model=model,
        examples=examples,
        rouge_l=round(rouge_total / examples, _DECIMALS) if examples else 0.0,
        leak_rate=round(leaked / (examples - errors), _DECIMALS) if examples > errors else 0.0,
        leaks_by_type=dict(sorted(leaks_by_type.items())),
        errors=errors,
        error_rate=round(errors / examples, _DECIMALS) if examples else 0.0,
    )
