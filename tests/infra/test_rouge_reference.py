"""ROUGE-L as labeltune computes it equals rouge-score's, bit for bit, on the sample export and on edge cases.

rouge-score pulls numpy, nltk and absl-py into the Evaluate function (84 MB of its layers, see README,
Packaging); labeltune may compute ROUGE-L with a lighter implementation only while it returns exactly what
`RougeScorer(["rougeL"], use_stemmer=True)` returns, which is the reference kept here (a dev dependency).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from labeltune.domain.metrics import rouge_l
from labeltune_tools.emulator.behaviour import base_model_reply

from .conftest import ROOT

EXPORT = ROOT / "examples" / "labelbox_export.ndjson"

EDGE_CASES: list[tuple[str, str]] = [
    ("", ""),
    ("", "anything at all"),
    ("anything at all", ""),
    ("   \t\n ", "words here"),
    ("!!! ... ???", "--- ;;;"),
    ("a", "a"),
    ("The cat sat.", "the CAT sat!"),
    ("the the the the", "the"),
    ("cat dog", "dog cat"),
    ("refunded refunds refunding refund", "refund"),
    ("ORD-396890 refunded 10% on 2026-03-02", "order ORD 396890: a 10 percent refund"),
    ("Café naïve façade Straße", "cafe naive facade strasse"),
    ("İstanbul ŞEHİR ǅemal", "istanbul sehir dzemal"),
    ("日本語のテキスト and english", "english"),
    ("emoji 🎉 party 🎉🎉", "party emoji"),
    ("tab\tseparated\nnew\r\nlines", "tab separated new lines"),
    ("don't won't can't it's", "do not will not cannot it is"),
    ("dying lying tying skies news innings", "die lie tie sky news inning"),
    ("generously happily relational conditional rational", "generous happy relate condition ration"),
    ("digitizer operator hopeful goodness controllable", "digit operate hope good control"),
    ("agreed feed bled sing conflated troubled sized hopping", "agree fee bleed sing conflate trouble size hop"),
    ("falling hissing fizzed failing filing", "fall hiss fizz fail file"),
    ("sensibility sensitivity formality electrical electricity", "sensible sensitive formal electric"),
    ("abc abcd abcde xy1 x12345 99999", "abc abcd abcde xy1 x12345 99999"),
    ("a" * 40 + " " + "b" * 3, "a" * 40),
    (" ".join(["word"] * 200), " ".join(["word", "other"] * 100)),
]


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines() if line.strip()]


def _summaries(row: dict[str, Any]) -> list[str]:
    return [
        classification["text_answer"]["content"]
        for project in row.get("projects", {}).values()
        for label in project.get("labels", [])
        for classification in label["annotations"]["classifications"]
        if isinstance(classification.get("text_answer"), dict)
    ]


def _chat(row: dict[str, Any]) -> str:
    value = row["data_row"].get("row_data")
    return value if isinstance(value, str) else ""


def example_pairs() -> Iterator[tuple[str, str]]:
    """(prediction, reference) pairs from the sample export: the emulator's base-model reply, the chat itself,
    the summary itself, shuffled, halved and with another row's summary, each against the human summary."""
    rows = _rows()
    shuffler = random.Random(20260301)
    references = [s for row in rows for s in _summaries(row)]
    for row in rows:
        chat = _chat(row)
        for reference in _summaries(row):
            words = reference.split()
            shuffled = words[:]
            shuffler.shuffle(shuffled)
            yield base_model_reply(chat), reference
            yield chat, reference
            yield reference, reference
            yield " ".join(shuffled), reference
            yield " ".join(words[: len(words) // 2]), reference
            yield shuffler.choice(references), reference


@cache
def _reference_scorer() -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=True)


def reference_rouge_l(prediction: str, reference: str) -> float:
    return float(_reference_scorer().score(reference, prediction)["rougeL"].fmeasure)


def test_the_sample_export_gives_pairs_to_compare() -> None:
    pairs = list(example_pairs())
    assert len(pairs) >= 6 * 80
    scores = {reference_rouge_l(p, r) for p, r in pairs}
    assert min(scores - {0.0}) > 0.0 and max(scores) == 1.0 and len(scores) > 100  # not a degenerate sample


def test_rouge_l_equals_rouge_score_on_the_sample_export() -> None:
    differing = [
        (p[:60], r[:60], ours, theirs)
        for p, r in example_pairs()
        if (ours := rouge_l(p, r)) != (theirs := reference_rouge_l(p, r))
    ]
    assert differing == []


@pytest.mark.parametrize(("prediction", "reference"), EDGE_CASES)
def test_rouge_l_equals_rouge_score_on_edge_cases(prediction: str, reference: str) -> None:
    assert rouge_l(prediction, reference) == reference_rouge_l(prediction, reference)
    assert rouge_l(reference, prediction) == reference_rouge_l(reference, prediction)


def test_rouge_l_equals_rouge_score_on_random_text() -> None:
    generator = random.Random(7)
    vocabulary = sorted({w for row in _rows() for s in _summaries(row) for w in s.split()})
    vocabulary += ["", "-", "??", "Ünïcödé", "x" * 12, "1234", "running", "runs", "ran"]
    for _ in range(300):
        prediction = " ".join(generator.choices(vocabulary, k=generator.randint(0, 40)))
        reference = " ".join(generator.choices(vocabulary, k=generator.randint(0, 40)))
        assert rouge_l(prediction, reference) == reference_rouge_l(prediction, reference), (prediction, reference)


def test_the_reference_is_rouge_score_itself() -> None:
    # Guards the comparison: were rouge-score missing, this module would compare labeltune with itself.
    import rouge_score

    assert Path(rouge_score.__file__).parent.name == "rouge_score"
    assert reference_rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
