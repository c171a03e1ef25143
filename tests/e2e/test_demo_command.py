"""`make demo` runs `labeltune demo`: run the command itself, in its own process, as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.report.page import parse

ROOT = Path(__file__).resolve().parents[2]


def test_labeltune_demo_succeeds_and_says_what_was_emulated(tmp_path: Path) -> None:
    reports, keep = tmp_path / "reports", tmp_path / "keep"
    options = ["--job-seconds", "1", "--report-dir", str(reports), "--keep", str(keep)]
    result = subprocess.run(
        [sys.executable, "-m", "labeltune_tools.cli", "demo", *options],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "LOCAL STACK: every outside service is emulated" in out
    assert "OpenAI API: labeltune's emulator" in out
    assert "Execution SUCCEEDED" in out
    assert "PrepareDataset -> StartFineTune" in out
    assert "AggregateEvaluation -> ArePredictionsWanted -> RecordRunSuccess" in out
    assert "ROUGE-L (mean F)" in out and "PII leak rate" in out
    assert "gate:           passed (every check passed), promoted to the project's current model" in out
    # `make demo` runs both providers on one stack and compares them side by side.
    assert "Side by side" in out and re.search(r"^  provider +\| openai +\| bedrock$", out, re.M)
    assert "RESULT: all 2 runs succeeded (on emulated services)" in out
    # Each run's HTML report, fetched through GET /runs/{id}/report, written where asked and its path printed.
    written = sorted(reports.glob("labeltune-report-run-*.html"))
    assert len(written) == 2 and all(f"HTML report:    {path.resolve()}" in out for path in written)
    for path in written:
        page = parse(path.read_text(encoding="utf-8"))
        assert page.external_loads() == [] and page.tags.count("svg") == 2 and "Shown " in page.all_text
    # Both runs' progress, as their states passed: one line per state entered, the run's counts as they came.
    for provider in ("openai", "bedrock"):
        assert re.search(rf"^  \[{provider}\] +\+\d+\.\ds  PrepareDataset\b", out, re.M), out
        assert re.search(rf"^  \[{provider}\] +\+\d+\.\ds  .*dataset 62 train / 11 validation / 7 eval", out, re.M)
        assert re.search(rf"^  \[{provider}\] +\+\d+\.\ds  execution SUCCEEDED", out, re.M)
    assert out.index("Progress (polled") < out.index("=== openai")
    # With --keep too, each report is also kept beside the run's files, and where they are is printed.
    for path in written:
        run_id = path.name.removeprefix("labeltune-report-").removesuffix(".html")
        assert (keep / run_id / "report.html").read_bytes() == path.read_bytes()
        assert (keep / run_id / "run.json").is_file() and (keep / run_id / "dataset" / "train.jsonl").is_file()
        assert f"kept in {keep / run_id}: " in out
    # Output and logs carry ids and counts only: none of the sample chats' e-mail addresses or phone numbers.
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", result.stdout + result.stderr)
    assert not re.search(r"\(\d{3}\) \d{3}-\d{4}", result.stdout + result.stderr)
