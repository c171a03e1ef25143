"""`labeltune demo --keep DIR`, run as a user runs it: the run's artefacts outlive the in-memory stack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.report.page import parse

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labeltune_tools.cli", "demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_keep_leaves_the_runs_files_record_and_report_on_disk(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    result = demo("--provider", "openai", "--job-seconds", "1", "--keep", str(keep))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    run_id = re.search(r"^Execution SUCCEEDED: (run-\w+)$", out, re.M)
    assert run_id, out
    kept = keep / run_id.group(1)
    # Progress came as the states passed, one line each, then the end of the execution.
    assert re.search(r"^  \[openai\] +\+\d+\.\ds  PrepareDataset\b", out, re.M), out
    assert re.search(r"^  \[openai\] +\+\d+\.\ds  execution SUCCEEDED", out, re.M), out
    # The run's status shows on the line of the state it was written in (RecordRunSuccess writes it first).
    assert re.search(r"^  \[openai\] +\+\d+\.\ds  \S.*run SUCCEEDED", out, re.M), out
    # Where the files are, at the end, by name only.
    assert re.search(rf"^kept in {re.escape(str(kept))}: .*run\.json.*dataset/ \(eval\.jsonl, ", out, re.M), out
    assert f"HTML report (kept): {kept / 'report.html'}" in out
    assert "HTML report:    " not in out  # no other copy unless --report-dir asks for one

    record = json.loads((kept / "run.json").read_text(encoding="utf-8"))
    assert record["run_id"] == run_id.group(1) and record["status"] == "SUCCEEDED"
    dataset = kept / "dataset"
    assert len(jsonl(dataset / "train.jsonl")) == record["train_examples"]
    assert len(jsonl(dataset / "validation.jsonl")) == record["validation_examples"]
    assert len(jsonl(dataset / "eval.jsonl")) == record["eval_examples"]
    assert json.loads((dataset / "report.json").read_text(encoding="utf-8"))
    evaluation = kept / "evaluation"
    answers = jsonl(evaluation / "examples.jsonl")  # one answer per held-out example from each model
    assert sorted(answer["role"] for answer in answers) == sorted(["base", "tuned"] * record["evaluated_examples"])
    assert json.loads((evaluation / "summary.json").read_text(encoding="utf-8"))
    assert (kept / "export.ndjson").stat().st_size > 0
    page = parse((kept / "report.html").read_text(encoding="utf-8"))
    assert page.external_loads() == [] and "Shown " in page.all_text
    # The files hold the chats; the output never does.
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", result.stdout + result.stderr)
    assert not re.search(r"\(\d{3}\) \d{3}-\d{4}", result.stdout + result.stderr)


def test_keep_refuses_a_directory_in_use_before_the_stack_starts(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = demo("--keep", str(tmp_path), timeout=30)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"labeltune demo: argument --keep: {tmp_path} is not empty (give a new or empty directory)"
    ]
    assert "Stack up" not in result.stdout and (tmp_path / "notes.txt").read_text() == "mine"
