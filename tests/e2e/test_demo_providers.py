"""`run_demo(..., provider="both")`: OpenAI and Amazon Bedrock runs at once on one embedded stack, compared.

The demo starts its own stack, and moto keeps its resources in module globals: next to this directory's
session stack it would find that stack's resources. So it runs in its own Python, as `labeltune demo` does.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Short emulated jobs and deployments: the runs take seconds, not the demo's defaults.
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from labeltune_tools.embedded.demo import run_demo
    from labeltune_tools.embedded.stack import StackOptions

    options = StackOptions(job_duration_seconds=1.0, bedrock_job_seconds=1.0, bedrock_deployment_seconds=0.5)
    export = Path("examples/labelbox_export.ndjson")
    sys.exit(run_demo(export, "clx-support-summaries-demo", sys.stdout, options, provider="both"))
    """
)


def cells(out: str, row: str) -> list[str]:
    """The cells of one row of the side-by-side table."""
    (line,) = [line for line in out.splitlines() if "|" in line and line.split("|")[0].strip() == row]
    return [cell.strip() for cell in line.split("|")[1:]]


def test_both_providers_run_at_once_and_are_compared_side_by_side() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]
    # The honest header: what is emulated, that the numbers are not real model quality, per provider too.
    assert "LOCAL STACK: every outside service is emulated; the numbers are not real model quality." in out
    assert "Amazon Bedrock (Nova customization, deployments, Converse): labeltune's Bedrock emulator" in out
    assert "the openai run: EMULATED - labeltune's emulator" in out
    assert "the bedrock run: EMULATED - labeltune's Bedrock emulator" in out
    # Two projects, one per provider, each with its own run and report.
    assert "PUT /projects/clx-support-summaries-demo-openai -> provider openai" in out
    assert "PUT /projects/clx-support-summaries-demo-bedrock -> provider bedrock" in out
    assert out.count("Execution SUCCEEDED: run-") == 2
    assert "=== openai: project clx-support-summaries-demo-openai ===" in out
    assert "=== bedrock: project clx-support-summaries-demo-bedrock ===" in out
    # The table: both providers' columns, both runs succeeded, each with its own model and numbers.
    assert cells(out, "provider") == ["openai", "bedrock"]
    assert cells(out, "service") == ["EMULATED", "EMULATED"]
    assert cells(out, "result") == ["SUCCEEDED", "SUCCEEDED"]
    assert cells(out, "base model") == ["gpt-4.1-mini-2025-04-14", "amazon.nova-micro-v1:0:128k"]
    assert cells(out, "job status") == ["succeeded", "Completed"]
    for row in ("tuned model", "training tokens", "ROUGE-L base -> tuned", "leak rate base -> tuned", "wall time"):
        assert all(cell != "-" for cell in cells(out, row)), row
    assert all(int(count) > 5 for count in cells(out, "states visited"))
    assert "EMULATED: a stand-in model on labeltune's emulator; its metrics are not real model quality." in out
    assert out.rstrip().endswith("RESULT: all 2 runs succeeded (on emulated services)")
    # Output and logs carry ids and counts only: none of the sample chats' e-mail addresses or phone numbers.
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", out + result.stderr)
    assert not re.search(r"\(\d{3}\) \d{3}-\d{4}", out + result.stderr)
