"""`labeltune dataset build`: the pipeline's builder on a local file, with the per-project config schema."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from labeltune.dataset.builder import FILES
from labeltune_tools.cli import main
from labeltune_tools.commands.dataset import build as build_command

from .openai_rules import dataset_problems
from .rows import PROJECT, line, valid_lines

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "examples" / "labelbox_export.ndjson"


TODAY = date(2026, 11, 29)


def run(*args: str, today: date = TODAY) -> tuple[int, str, str]:
    from labeltune_tools.cli import build_parser

    parsed = build_parser().parse_args(["dataset", "build", *args])
    out, err = io.StringIO(), io.StringIO()
    return build_command(parsed, out, err, today=today), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 29), []),
        (date(2026, 12, 20), ["warning:   openai stops accepting new fine-tuning jobs on 2027-01-06 (in 17 days)"]),
        (
            date(2027, 1, 6),
            [
                "PROBLEM:   openai stopped accepting new fine-tuning jobs on 2027-01-06 (a run would be refused "
                "before exporting)"
            ],
        ),
    ],
)
def test_the_base_models_dates_are_shown_with_warnings_near_them(
    tmp_path: Path, today: date, expected: list[str]
) -> None:
    status, out, _ = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--provider", "openai", today=today)
    assert status == 0  # the dataset is built either way: the dates are the run's business
    lines = [line.strip() for line in out.splitlines()]
    assert "model:     openai gpt-4.1-mini-2025-04-14 (training closes 2027-01-06, shuts down 2027-01-14)" in lines
    dated = [line for line in lines if line.startswith(("warning:   openai", "PROBLEM:"))]
    assert [line for line in dated if "fine-tuning jobs" in line] == expected
    bedrock = run(str(EXPORT), "--out", str(tmp_path / "nova"), "--provider", "bedrock", today=today)[1]
    assert "model:     bedrock amazon.nova-micro-v1:0:128k (no closing date known)" in bedrock


def test_builds_the_sample_export(tmp_path: Path) -> None:
    status, out, err = run(str(EXPORT), "--out", str(tmp_path / "ds"))
    assert (status, err) == (0, "")
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == sorted(FILES.values())
    assert "clx-support-summaries-demo" in out  # the project, read from the export's rows
    assert "62 train, 11 validation, 7 eval" in out
    assert "not_done 3" in out and "billable tokens" in out and "o200k_base" in out
    assert dataset_problems(tmp_path / "ds") == []
    # counts and estimates only: no e-mail address or phone number from the chats
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", out) and not re.search(r"\d{3}\) \d{3}-\d{4}", out)


def test_the_config_file_is_the_project_config_schema(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"system_prompt": "Summarise briefly.", "hyperparameters": {"n_epochs": 4}}))
    status, out, _ = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--config", str(config), "--json")
    report = json.loads(out)
    assert status == 0 and report["training"]["n_epochs"] == 4
    first = json.loads((tmp_path / "ds" / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": "Summarise briefly."}


def test_a_project_record_from_the_api_works_as_config(tmp_path: Path) -> None:
    record = tmp_path / "project.json"
    record.write_text(json.dumps({"project_id": PROJECT, "config": {"min_examples": 10}, "pending_events": 0}))
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"".join(valid_lines(40)))
    status, out, _ = run(str(export), "--out", str(tmp_path / "ds"), "--config", str(record))
    assert status == 0 and PROJECT in out


def test_too_few_examples_exits_1_and_says_why(tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"".join(valid_lines(5)))
    status, out, _ = run(str(export), "--out", str(tmp_path / "ds"))
    assert status == 1 and "PROBLEM" in out and "need at least 10 training" in out
    assert (tmp_path / "ds" / "report.json").exists()


@pytest.mark.parametrize(
    "setup,message",
    [
        ("missing-export", "no export file"),
        ("bad-config", "is not valid"),
        ("two-projects", "several projects"),
        ("bad-prices", "price table"),
    ],
)
def test_usage_errors_exit_2(setup: str, message: str, tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"".join(valid_lines(12)))
    args = [str(export), "--out", str(tmp_path / "ds")]
    if setup == "missing-export":
        args[0] = str(tmp_path / "nope.ndjson")
    elif setup == "bad-config":
        (tmp_path / "c.json").write_text(json.dumps({"min_examples": 3}))
        args += ["--config", str(tmp_path / "c.json")]
    elif setup == "two-projects":
        row = json.loads(valid_lines(1)[0])
        row["projects"]["other"] = row["projects"][PROJECT]
        export.write_bytes(line(row))
    elif setup == "bad-prices":
        (tmp_path / "p.json").write_text("{}")
        args += ["--price-table", str(tmp_path / "p.json")]
    status, _, err = run(*args)
    assert status == 2 and message in err


def test_explicit_project_and_gzip(tmp_path: Path) -> None:
    import gzip

    export = tmp_path / "export.ndjson.gz"
    export.write_bytes(gzip.compress(b"".join(valid_lines(30))))
    status, out, _ = run(str(export), "--out", str(tmp_path / "ds"), "--project", "someone-else")
    assert status == 1 and "not_in_project 30" in out


def test_the_labeltune_command_has_it() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["dataset", "build", "--help"])
    assert exit_.value.code == 0
    result = subprocess.run(
        [sys.executable, "-m", "labeltune_tools.cli", "dataset", "build", str(EXPORT), "--out", "/dev/null/x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "labeltune dataset build:" in result.stderr


# --- --provider and --base-model -----------------------------------------------------------------------

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def _first_train_line(directory: Path) -> dict:
    record: dict = json.loads((directory / "train.jsonl").read_text().splitlines()[0])
    return record


def test_provider_bedrock_writes_nova_files_and_says_what_is_unknown(tmp_path: Path) -> None:
    status, out, err = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--provider", "bedrock")
    assert (status, err) == (0, "")
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == sorted(FILES.values())
    assert _first_train_line(tmp_path / "ds")["schemaVersion"] == "bedrock-conversation-2024"
    assert "62 train, 11 validation, 7 eval" in out and NOVA_MICRO in out
    assert "bedrock-conversation-2024" in out and "estimates: Nova's tokenizer is not public" in out
    assert "x 2 epochs (provider default)" in out
    assert "training: unknown" in out and "storage per month: unknown" in out
    assert "inference per 1,000 examples:" in out and " USD (price table entry" in out
    report = json.loads((tmp_path / "ds" / "report.json").read_text())
    assert report["bedrock"]["training_format"] == "bedrock-conversation-2024"


@pytest.mark.parametrize(
    "config,options,model,provider",
    [
        ({"provider": "openai", "base_model": "gpt-4.1-2025-04-14"}, ["--provider", "bedrock"], NOVA_MICRO, "bedrock"),
        ({"provider": "bedrock", "base_model": NOVA_2_LITE}, [], NOVA_2_LITE, "bedrock"),
        ({"provider": "bedrock", "base_model": NOVA_2_LITE}, ["--provider", "bedrock"], NOVA_2_LITE, "bedrock"),
        ({"provider": "bedrock"}, ["--provider", "openai"], "gpt-4.1-mini-2025-04-14", "openai"),
        ({}, ["--provider", "bedrock", "--base-model", NOVA_2_LITE], NOVA_2_LITE, "bedrock"),
        (
            {"provider": "bedrock"},
            ["--base-model", "amazon.nova-lite-v1:0:300k"],
            "amazon.nova-lite-v1:0:300k",
            "bedrock",
        ),
    ],
)
def test_provider_overrides_the_config_files(
    config: dict, options: list[str], model: str, provider: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"system_prompt": "Summarise briefly.", **config}))
    status, out, _ = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--config", str(path), *options, "--json")
    report = json.loads(out)
    assert report["base_model"] == model
    assert status == (1 if model == NOVA_2_LITE else 0)  # Nova 2 Lite needs 200 records; the sample has 73
    first = _first_train_line(tmp_path / "ds")
    assert ("schemaVersion" in first) == (provider == "bedrock") and ("bedrock" in report) == (provider == "bedrock")


def test_nova_2_lite_on_the_sample_export_fails_before_paying(tmp_path: Path) -> None:
    status, out, _ = run(
        str(EXPORT), "--out", str(tmp_path / "ds"), "--provider", "bedrock", "--base-model", NOVA_2_LITE
    )
    assert status == 1 and "PROBLEM" in out and "need at least 200 training" in out
    assert "73 train, 0 validation, 7 eval" in out and "went to training" in out
    assert (tmp_path / "ds" / "validation.jsonl").read_bytes() == b""


def test_hyperparameters_the_provider_does_not_take_are_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hyperparameters": {"batch_size": 8}}))
    status, _, err = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--config", str(path), "--provider", "bedrock")
    assert status == 2 and "is not valid" in err and "batch_size is not a bedrock hyperparameter" in err


def test_a_system_prompt_bedrock_reserves_words_of_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"system_prompt": "Summarise. Begin with 'Assistant:'."}))
    status, _, err = run(str(EXPORT), "--out", str(tmp_path / "ds"), "--config", str(path), "--provider", "bedrock")
    assert status == 2 and "system prompt is not usable for bedrock" in err and "Assistant:" in err
