"""The committed sample export: reproducible, in the Labelbox format, and honest about its PII."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from labeltune.domain.pii import PII_TYPES, extract_pii, find_leaks
from labeltune_tools.sample_data import (
    PROJECT_ID,
    REJECTABLE,
    SUMMARY_FEATURE_SCHEMA_ID,
    SUMMARY_NAME,
    GeneratedChat,
    generate_chats,
    generate_rows,
)

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"
SCRIPT = ROOT / "examples" / "generate_export.py"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def chats() -> list[GeneratedChat]:
    return list(generate_chats())


def _project(row: dict[str, Any]) -> dict[str, Any]:
    return row["projects"][PROJECT_ID]


def _summaries(row: dict[str, Any]) -> list[str]:
    """Every summary text of the row, in every label."""
    return [
        c["text_answer"]["content"]
        for label in _project(row)["labels"]
        for c in label["annotations"]["classifications"]
        if c["name"] == SUMMARY_NAME
    ]


def test_committed_export_matches_a_fresh_generation(tmp_path: Path) -> None:
    fresh = tmp_path / "export.ndjson"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(fresh)], check=True, capture_output=True)
    assert fresh.read_bytes() == EXPORT.read_bytes(), (
        "examples/labelbox_export.ndjson is stale (generator or Faker version changed): "
        "regenerate it with examples/generate_export.py"
    )


def test_generation_is_deterministic_and_seeded() -> None:
    assert list(generate_rows(5, seed=7)) == list(generate_rows(5, seed=7))
    assert list(generate_rows(5, seed=7)) != list(generate_rows(5, seed=8))


def test_rows_are_in_the_export_format_only(rows: list[dict[str, Any]]) -> None:
    keys = [r["data_row"]["global_key"] for r in rows]
    assert len(keys) == len(set(keys))
    assert len({r["data_row"]["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"data_row", "media_attributes", "projects"}
        assert set(row["data_row"]) == {"id", "global_key", "external_id", "row_data", "details"}
        assert set(row["data_row"]["details"]) == {"dataset_id", "created_at"}
        assert row["media_attributes"] == {"mime_type": "text/plain"}
        assert list(row["projects"]) == [PROJECT_ID]
        project = _project(row)
        assert set(project) == {"name", "labels", "project_details"}
        assert set(project["project_details"]) == {"batch_id", "workflow_status", "workflow_history"}
        for label in project["labels"]:
            assert set(label) == {"id", "label_kind", "label_details", "annotations"}
            assert set(label["annotations"]) == {"objects", "relationships", "classifications"}
            for c in label["annotations"]["classifications"]:
                if c["name"] == SUMMARY_NAME:
                    assert c["value"] == SUMMARY_NAME
                    assert c["feature_schema_id"] == SUMMARY_FEATURE_SCHEMA_ID
                    assert set(c) == {"feature_id", "feature_schema_id", "name", "value", "text_answer"}


def test_enough_valid_rows(rows: list[dict[str, Any]]) -> None:
    valid = [
        r
        for r in rows
        if _project(r)["project_details"]["workflow_status"] == "DONE"
        and _project(r)["labels"]
        and all(s.strip() for s in _summaries(r))
        and _summaries(r)
    ]
    assert len(valid) >= 72
    assert all(r["data_row"]["global_key"].startswith("chat-0") for r in valid)


def test_rejectable_rows_are_there(rows: list[dict[str, Any]]) -> None:
    bad = {
        r["data_row"]["global_key"].removeprefix("chat-bad-"): r for r in rows if "bad" in r["data_row"]["global_key"]
    }
    assert set(bad) == set(REJECTABLE)
    status = {k: _project(r)["project_details"]["workflow_status"] for k, r in bad.items()}
    assert _project(bad["no-labels"])["labels"] == [] and status["no-labels"] == "DONE"
    assert _project(bad["to-label"])["labels"] == [] and status["to-label"] == "TO_LABEL"
    assert _summaries(bad["empty-summary"]) == ["  \n "] and status["empty-summary"] == "DONE"
    assert status["in-review"] == "IN_REVIEW" and _summaries(bad["in-review"])[0].strip()
    assert status["in-rework"] == "IN_REWORK" and _summaries(bad["in-rework"])[0].strip()
    assert _project(bad["no-summary-classification"])["labels"] and not _summaries(bad["no-summary-classification"])


def test_generator_rows_are_the_file(rows: list[dict[str, Any]], chats: list[GeneratedChat]) -> None:
    assert [c.row for c in chats] == rows
    assert [c.global_key for c in chats if not c.valid] == [
        r["data_row"]["global_key"] for r in rows if "bad" in r["data_row"]["global_key"]
    ]


def test_scenarios_vary(chats: list[GeneratedChat]) -> None:
    by_scenario: dict[str, set[str]] = defaultdict(set)
    for chat in chats:
        if chat.valid:
            by_scenario[chat.scenario].add(chat.summary)
    assert len(by_scenario) >= 8
    assert all(len(summaries) >= 3 for summaries in by_scenario.values())
    assert any(len(_project(c.row)["labels"]) > 1 for c in chats if c.valid)  # some rows were relabelled


def test_every_chat_holds_pii_of_every_kind(chats: list[GeneratedChat]) -> None:
    for chat in chats:
        for kind in ("name", "email", "phone", "order_id"):
            assert chat.pii[kind], (chat.global_key, kind)
        texts = " ".join(line.split(": ", 1)[1] for line in chat.row["data_row"]["row_data"].splitlines())
        mentioned = {part for part in chat.pii["name"] if " " not in part and part in re.findall(r"[\w'-]+", texts)}
        assert mentioned, chat.global_key  # names are in the turns too, not only in the speaker labels
    assert any(chat.pii["account_id"] for chat in chats)
    assert not all(chat.pii["account_id"] for chat in chats)


def test_extract_pii_recovers_the_ground_truth(chats: list[GeneratedChat]) -> None:
    for chat in chats:
        assert extract_pii(chat.row["data_row"]["row_data"]) == chat.pii, chat.global_key


def test_no_summary_holds_its_chats_pii(chats: list[GeneratedChat]) -> None:
    for chat in chats:
        extracted = extract_pii(chat.row["data_row"]["row_data"])
        for summary in _summaries(chat.row):
            assert find_leaks(summary, chat.pii) == dict.fromkeys(PII_TYPES, 0), (chat.global_key, summary)
            assert find_leaks(summary, extracted) == dict.fromkeys(PII_TYPES, 0), (chat.global_key, summary)
