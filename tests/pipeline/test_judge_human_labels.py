"""The human-labelled set the judge's agreement is measured on: well-formed, built from the sample export's
chats, varied in quality, and free of personal data beyond the synthetic chats it quotes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from labeltune.domain.judge import CRITERIA
from labeltune.pipeline.judge import read_human_set

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "examples" / "judge_human_labels.jsonl"
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"


def test_the_set_reads_and_has_30_to_40_examples() -> None:
    examples = read_human_set(LABELS.read_text(encoding="utf-8").splitlines())

    assert 30 <= len(examples) <= 40


def test_each_chat_is_the_sample_export_chat_its_id_names() -> None:
    chats = {}
    for line in EXPORT.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)["data_row"]
        chats[row["global_key"]] = row["row_data"]
    for example in read_human_set(LABELS.read_text(encoding="utf-8").splitlines()):
        source = example.id.rsplit("-", 1)[0]
        assert example.chat == chats[source], example.id


def test_the_set_holds_good_summaries_and_failures_of_every_criterion() -> None:
    examples = read_human_set(LABELS.read_text(encoding="utf-8").splitlines())
    passing = sum(all(example.human.values()) for example in examples)
    failing = Counter(name for example in examples for name in CRITERIA if not example.human[name])

    assert 0.25 <= passing / len(examples) <= 0.5
    assert all(failing[name] >= 5 for name in CRITERIA), failing
