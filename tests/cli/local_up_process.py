"""`labeltune local up` in its own process on free ports, for tests that use it as a user would: the lines it
printed up to "Ctrl-C stops the stack.", then Ctrl-C, which must stop it cleanly (exit 0)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = ("--api-port", "0", "--moto-port", "0", "--emulator-port", "0")


@contextmanager
def local_up() -> Iterator[list[str]]:
    """The printed lines (without line ends) of a running `labeltune local up`; stopped with Ctrl-C after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "labeltune_tools.cli", "local", "up", *FREE_PORTS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        if process.poll() is not None:  # it stopped before serving: say why
            raise AssertionError("\n".join(lines) + (process.stderr.read() if process.stderr else ""))
        yield lines
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """`labeltune ...` in its own process (the real clock, as the stack above: a signature's date must agree with
    the verifier's, and this test process's clock is moved ahead under `make test-later`)."""
    return subprocess.run(
        [sys.executable, "-m", "labeltune_tools.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
