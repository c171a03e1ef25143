"""`labeltune demo --provider openai|bedrock|both`: the option, and the side-by-side report as plain functions.

The table, the verdict and the exit status are computed from RunOutcome values alone, so they are checked
here without a stack; tests/e2e/test_demo_providers.py runs both providers on the embedded stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labeltune_tools.cli import main
from labeltune_tools.embedded import demo
from labeltune_tools.embedded.demo import (
    RunOutcome,
    comparison_table,
    exit_status,
    provider_service,
    providers_for,
    refile_export,
    result_lines,
)
from labeltune_tools.embedded.stack import EMULATED, EmbeddedStack, StackOptions

EMULATED_OPENAI = EMULATED["OpenAI API"]
REAL_OPENAI = "REAL (api.openai.com, paid)"


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any server start-up fails the test: these errors must come before the stack."""

    def refuse(self: EmbeddedStack) -> EmbeddedStack:
        raise AssertionError("the local stack was started")

    monkeypatch.setattr(EmbeddedStack, "start", refuse)


@pytest.fixture
def demo_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """run_demo replaced by a recorder: what the command would run, without running it."""
    calls: list[dict[str, Any]] = []

    def record(
        export: Path,
        project: str,
        out: Any,
        options: StackOptions,
        provider: str = "both",
        report_dir: Path | None = None,
        keep: Path | None = None,
    ) -> int:
        calls.append(
            {"project": project, "options": options, "provider": provider, "report_dir": report_dir, "keep": keep}
        )
        return 0

    monkeypatch.setattr(demo, "run_demo", record)
    return calls


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- the option ---------------------------------------------------------------------------------------------


def test_an_unknown_provider_is_refused_in_one_line(capsys: pytest.CaptureFixture[str], no_stack: None) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--provider", "azure"])
    assert exit_.value.code == 2
    assert one_line(capsys.readouterr().err) == (
        "labeltune demo: argument --provider: invalid choice: 'azure' (choose from 'openai', 'bedrock', 'both')"
    )


@pytest.mark.parametrize(("args", "provider"), [([], "both"), (["--provider", "openai"], "openai")])
def test_the_provider_reaches_the_demo_both_by_default(
    args: list[str], provider: str, demo_calls: list[dict[str, Any]]
) -> None:
    assert main(["demo", "--job-seconds", "2", *args]) == 0
    (call,) = demo_calls
    assert call["provider"] == provider
    # --job-seconds times both emulators' jobs: both runs of `--provider both` take about as long.
    assert (call["options"].job_duration_seconds, call["options"].bedrock_job_seconds) == (2.0, 2.0)


@pytest.mark.parametrize("args", [[], ["--provider", "both"]])
def test_a_real_labelbox_project_needs_one_provider(
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    demo_calls: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("LABELBOX_API_KEY", "not-a-real-key")
    assert main(["demo", "--real-labelbox", *args]) == 2
    assert one_line(capsys.readouterr().err) == (
        "labeltune demo: --real-labelbox runs one Labelbox project: add --provider openai or --provider bedrock"
    )
    assert demo_calls == []


def test_providers_for_each_choice() -> None:
    assert providers_for("both") == ("openai", "bedrock")
    assert providers_for("bedrock") == ("bedrock",)
    with pytest.raises(ValueError, match="azure"):
        providers_for("azure")


def test_each_provider_is_found_in_what_the_stack_emulates() -> None:
    """The Bedrock emulator is listed, so its column can say it is emulated; a real key shows as REAL."""
    services = StackOptions().emulated()
    assert provider_service(services, "bedrock").startswith("labeltune's Bedrock emulator")
    assert provider_service(services, "openai") == EMULATED_OPENAI
    assert provider_service(StackOptions(openai_api_key="sk-test").emulated(), "openai") == REAL_OPENAI


# -- the side-by-side table, the verdict and the exit status ---------------------------------------------------


def succeeded(provider: str, *, service: str = "emulated", **run: Any) -> RunOutcome:
    record = {
        "base_model": {"openai": "gpt-4.1-mini-2025-04-14", "bedrock": "amazon.nova-micro-v1:0:128k"}[provider],
        "fine_tuned_model": f"tuned-{provider}",
        "job_status": "succeeded",
        "train_tokens": 16606,
        "estimated_cost_usd": 0.2491,
        "base_metrics": {"rouge_l": 0.0282, "leak_rate": 1, "errors": 0},
        "tuned_metrics": {"rouge_l": 0.4187, "leak_rate": 0, "errors": 0},
        **run,
    }
    return RunOutcome(
        provider=provider,
        project_id=f"demo-{provider}",
        service=service,
        run_id=f"run-{provider}",
        status="SUCCEEDED",
        run=record,
        seconds=12.34,
        states=14,
    )


def cells(lines: list[str], row: str) -> list[str]:
    """The cells of one row of the table, by its name."""
    (line,) = [line for line in lines if line.split("|")[0].strip() == row]
    return [cell.strip() for cell in line.split("|")[1:]]


def test_the_table_puts_the_runs_side_by_side() -> None:
    lines = comparison_table([succeeded("openai"), succeeded("bedrock", estimated_cost_usd=None)])
    assert lines[0] == "  provider                | openai                  | bedrock"
    assert lines[1] == "  ------------------------+-------------------------+----------------------------"
    assert cells(lines, "service") == ["EMULATED", "EMULATED"]
    assert cells(lines, "result") == ["SUCCEEDED", "SUCCEEDED"]
    assert cells(lines, "base model") == ["gpt-4.1-mini-2025-04-14", "amazon.nova-micro-v1:0:128k"]
    assert cells(lines, "tuned model") == ["tuned-openai", "tuned-bedrock"]
    assert cells(lines, "training tokens") == ["16606", "16606"]
    assert cells(lines, "estimated cost") == ["0.2491 USD", "no price in the table"]
    assert cells(lines, "ROUGE-L base -> tuned") == ["0.0282 -> 0.4187"] * 2
    assert cells(lines, "leak rate base -> tuned") == ["1 -> 0"] * 2
    assert cells(lines, "errors base / tuned") == ["0 / 0"] * 2
    assert cells(lines, "wall time") == ["12.3 s", "12.3 s"]
    assert cells(lines, "states visited") == ["14", "14"]
    assert cells(lines, "failure") == ["-", "-"]
    # The columns line up: every row's separators sit where the rule under the header crosses.
    crossings = [index for index, char in enumerate(lines[1]) if char == "+"]
    for line in lines[:1] + lines[2:]:
        assert [index for index, char in enumerate(line) if char == "|"] == crossings, line


def test_long_ids_are_cut_in_the_middle_and_a_real_service_is_named() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/xi5dxtlivloz"
    lines = comparison_table([succeeded("openai", service=REAL_OPENAI), succeeded("bedrock", fine_tuned_model=arn)])
    assert cells(lines, "service") == [REAL_OPENAI, "EMULATED"]
    (tuned,) = cells(lines, "tuned model")[1:]
    assert tuned == "arn:aws:bedrock:us-e...1:0:128k/xi5dxtlivloz" and len(tuned) == demo.CELL_WIDTH


def test_a_run_that_did_not_start_or_failed_says_why_in_its_column() -> None:
    not_started = RunOutcome("openai", "demo-openai", EMULATED_OPENAI, problem="PUT /projects/demo-openai answered 400")
    failed = RunOutcome(
        "bedrock",
        "demo-bedrock",
        "emulated",
        run_id="run-b",
        status="FAILED",
        run={"base_model": "amazon.nova-micro-v1:0:128k", "error": "FineTuneFailed", "error_message": "bad data"},
        seconds=3.0,
        states=7,
    )
    lines = comparison_table([not_started, failed])
    assert cells(lines, "result") == ["NOT STARTED", "FAILED"]
    assert cells(lines, "failure") == ["PUT /projects/demo-openai answered 400", "FineTuneFailed: bad data"]
    assert cells(lines, "base model") == ["-", "amazon.nova-micro-v1:0:128k"]
    assert cells(lines, "estimated cost") == ["-", "no price in the table"]
    assert cells(lines, "ROUGE-L base -> tuned") == ["-", "-"]
    assert cells(lines, "wall time") == ["-", "3.0 s"]


def test_the_verdict_and_exit_status_name_each_run_that_did_not_succeed() -> None:
    both = [succeeded("openai"), succeeded("bedrock")]
    assert result_lines(both) == ["RESULT: all 2 runs succeeded (on emulated services)"]
    assert exit_status(both) == 0

    one = [succeeded("bedrock")]
    assert result_lines(one) == ["RESULT: run succeeded (on emulated services)"]
    assert exit_status(one) == 0

    timed_out = RunOutcome(
        "bedrock", "demo-bedrock", "emulated", status="TIMED OUT", problem="still running after 300 s"
    )
    mixed = [succeeded("openai", service=REAL_OPENAI), timed_out]
    assert result_lines(mixed) == [
        "RESULT: 1 of 2 run(s) did NOT succeed (partly on real services; bedrock emulated):",
        "  bedrock (project demo-bedrock): still running after 300 s",
    ]
    assert exit_status(mixed) == 1
    assert exit_status([]) == 1


# -- each provider's project gets the export's rows ----------------------------------------------------------


def test_the_export_is_refiled_under_each_providers_project(tmp_path: Path) -> None:
    rows = [
        {"data_row": {"id": "a"}, "projects": {"demo": {"labels": ["x"]}}},
        {"data_row": {"id": "b"}, "projects": {"other": {"labels": []}}},
    ]
    source = tmp_path / "export.ndjson"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\nnot json\n", encoding="utf-8")
    copy = tmp_path / "copy.ndjson"
    refile_export(source, "demo", "demo-openai", copy)
    lines = copy.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["projects"] == {"demo": {"labels": ["x"]}, "demo-openai": {"labels": ["x"]}}
    assert json.loads(lines[1]) == rows[1]  # another project's row stays as it was
    assert lines[2] == "not json"  # a malformed line reaches the builder as it would have
