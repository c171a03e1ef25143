"""`labeltune judge agreement`: the stand-in judge's agreement with the human-labelled set, printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeltune.domain.judge import CRITERIA
from labeltune_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_agreement_is_printed_overall_and_per_criterion(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["judge", "agreement", "--provider", provider])

    out = capsys.readouterr().out
    assert "stand-in judge" in out and "labelled by the labeltune team" in out
    rows = {line.split()[0]: line.split()[-3:] for line in out.splitlines() if line.startswith("  ")}
    for name in ("overall", *CRITERIA):
        raw, kappa, judged = rows[name]
        assert 0.0 <= float(raw) <= 1.0 and -1.0 <= float(kappa) <= 1.0 and judged == "40/40", (name, rows[name])
    assert "trusted to gate a run: " in out
    assert status == (0 if "trusted to gate a run: yes" in out else 1)


def test_both_providers_stand_ins_give_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    main(["judge", "agreement", "--provider", "openai", "--json"])
    openai = json.loads(capsys.readouterr().out)
    main(["judge", "agreement", "--provider", "bedrock", "--json"])
    bedrock = json.loads(capsys.readouterr().out)

    assert openai == bedrock
    assert openai["examples"] == 40 and openai["errors"] == 0
    assert set(openai["criteria"]) == set(CRITERIA)


def test_a_model_the_emulator_does_not_serve_gives_no_verdicts_and_no_trust(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["judge", "agreement", "--model", "gpt-unknown"])

    out = capsys.readouterr().out
    assert status == 1
    assert "judge errors (no usable verdict): 40" in out
    assert "is gpt-unknown a model the OpenAI emulator serves?" in out


def test_a_bad_labels_file_ends_with_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "a", "chat": "Ann Lee: hi", "summary": "s", "human": {"faithful": true}}\n')

    status = main(["judge", "agreement", "--labels", str(labels)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("labeltune judge agreement: human-labelled set, line 1, human: missing no_personal_data")
    assert "Ann Lee" not in err and len(err.splitlines()) == 1
    assert main(["judge", "agreement", "--labels", str(tmp_path / "missing.jsonl")]) == 2
