"""cfn-lint with the serverless rules must pass with no findings at all (warnings included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def _cfn_lint_command() -> list[str]:
    """Prefer the venv's console script next to this interpreter; fall back to the runner module."""
    script = Path(sys.executable).with_name("cfn-lint")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]


def test_cfn_lint_with_serverless_rules_is_clean() -> None:
    # The template goes first: `-a` takes every following argument as a rules module.
    result = subprocess.run(
        [*_cfn_lint_command(), "template.yaml", "-a", "cfn_lint_serverless.rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert report.strip() == "", report
