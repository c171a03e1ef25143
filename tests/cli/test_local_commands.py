"""`labeltune demo` and `labeltune local up`: operator mistakes end in one line on stderr, quickly.

Bad options are refused before any server starts; a taken port is named with the option that changes it;
a stack that fails part-way stops what it started and restores the environment.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labeltune_tools.cli import main
from labeltune_tools.embedded import stack as stack_module
from labeltune_tools.embedded.stack import EmbeddedStack, PortInUse, StackError, StackOptions, free_port
from tests.cli.local_up_process import local_up, run_cli

ROOT = Path(__file__).resolve().parents[2]
STACK_THREADS = ("labeltune-moto", "labeltune-api", "openai-emulator")


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any server start-up fails the test: these errors must come before the stack."""

    def refuse(self: EmbeddedStack) -> EmbeddedStack:
        raise AssertionError("the local stack was started")

    monkeypatch.setattr(EmbeddedStack, "start", refuse)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def labeltune(*args: str, timeout: float = 20) -> tuple[subprocess.CompletedProcess[str], float]:
    """The command in its own process, as an operator runs it; (result, seconds it took)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "labeltune_tools.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - started


# -- bad options: argparse `type=` checks, one line, status 2, no server -----------------------------------


# "{tmp}" stands for the test's temporary directory, which holds "empty.ndjson".
BAD_DEMO_OPTIONS = [
    (["--export", "{tmp}/missing.ndjson"], "argument --export: no export file at {tmp}/missing.ndjson"),
    (["--export", "{tmp}"], "argument --export: {tmp} is a directory, not an export file"),
    (["--export", "{tmp}/empty.ndjson"], "argument --export: the export file {tmp}/empty.ndjson is empty"),
    (["--job-seconds", "-5"], "argument --job-seconds: must be a finite number of seconds above 0, not '-5'"),
    (["--job-seconds", "0"], "argument --job-seconds: must be a finite number of seconds above 0, not '0'"),
    (["--job-seconds", "nan"], "argument --job-seconds: must be a finite number of seconds above 0, not 'nan'"),
    (["--job-seconds", "inf"], "argument --job-seconds: must be a finite number of seconds above 0, not 'inf'"),
    (["--job-seconds", "soon"], "argument --job-seconds: not a number of seconds: 'soon'"),
    (["--fallback-check", "0"], "argument --fallback-check: must be at least 1 second, not '0'"),
    (["--fallback-check", "-2"], "argument --fallback-check: must be at least 1 second, not '-2'"),
    (["--fallback-check", "1.5"], "argument --fallback-check: not a whole number of seconds: '1.5'"),
    (["--moto-port", "70000"], "argument --moto-port: must be a port number from 0 to 65535"),
    (["--api-port", "-1"], "argument --api-port: must be a port number from 0 to 65535"),
    (["--emulator-port", "http"], "argument --emulator-port: not a port number: 'http'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_DEMO_OPTIONS)
def test_bad_demo_options_are_one_line_usage_errors(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_stack: None
) -> None:
    (tmp_path / "empty.ndjson").write_bytes(b"")
    with pytest.raises(SystemExit) as exit_:
        main(["demo", *(arg.replace("{tmp}", str(tmp_path)) for arg in args)])
    assert exit_.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("labeltune demo: " + message.replace("{tmp}", str(tmp_path))), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "/nonexistent/export.ndjson"], "argument --export: no export file at /nonexistent/export.ndjson"),
        (["--moto-port", "65536"], "argument --moto-port: must be a port number from 0 to 65535"),
    ],
)
def test_bad_local_up_options_are_one_line_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], no_stack: None
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["local", "up", *args])
    assert exit_.value.code == 2
    assert one_line(capsys.readouterr().err).startswith(f"labeltune local up: {message}")


@pytest.mark.parametrize("command", [["demo"], ["local", "up"]])
def test_a_missing_default_export_is_one_line(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_stack: None,
) -> None:
    from labeltune_tools.commands import local

    monkeypatch.setattr(local, "default_export", lambda: tmp_path / "gone.ndjson")
    assert main(command) == 2
    line = one_line(capsys.readouterr().err)
    name = " ".join(command)
    assert line == f"labeltune {name}: no export file at {tmp_path / 'gone.ndjson'} (give one with --export)"


def test_real_openai_without_a_key_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_stack: None
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--real-openai"]) == 2
    assert one_line(capsys.readouterr().err) == "labeltune demo: --real-openai needs OPENAI_API_KEY in the environment"


def test_the_command_refuses_bad_options_quickly_in_its_own_process(tmp_path: Path) -> None:
    for args, message in [
        (["--job-seconds", "-5"], "labeltune demo: argument --job-seconds: must be a finite number"),
        (["--export", str(tmp_path / "x.ndjson")], f"labeltune demo: argument --export: no export file at {tmp_path}"),
    ]:
        result, seconds = labeltune("demo", *args)
        assert result.returncode == 2, result.stderr
        assert one_line(result.stderr).startswith(message)
        assert seconds < 10
        assert "Stack up" not in result.stdout


def test_the_installed_console_script_refuses_bad_options() -> None:
    script = Path(sys.executable).with_name("labeltune")
    if not script.exists():
        pytest.skip("no labeltune console script next to this Python")
    started = time.monotonic()
    result = subprocess.run(
        [str(script), "demo", "--fallback-check", "0"], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2
    assert one_line(result.stderr) == "labeltune demo: argument --fallback-check: must be at least 1 second, not '0'"
    assert time.monotonic() - started < 10


# -- taken ports: checked before anything starts, named with the option that changes them -------------------


@pytest.mark.parametrize("option", ["--moto-port", "--api-port", "--emulator-port"])
def test_local_up_on_a_taken_port_says_which_and_exits(option: str, taken_port: int) -> None:
    others = [
        arg for other in ("--moto-port", "--api-port", "--emulator-port") if other != option for arg in (other, "0")
    ]
    result, seconds = labeltune("local", "up", option, str(taken_port), *others, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) == (
        f"labeltune local up: port {taken_port} ({option}) is already in use; choose another with {option}"
    )
    assert seconds < 15
    assert "Ctrl-C" not in result.stdout


def test_demo_on_a_taken_port_says_which_and_exits(taken_port: int) -> None:
    result, seconds = labeltune("demo", "--api-port", str(taken_port), timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) == (
        f"labeltune demo: port {taken_port} (--api-port) is already in use; choose another with --api-port"
    )
    assert seconds < 15
    assert "Stack up" not in result.stdout


def test_one_port_for_two_servers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["local", "up", "--moto-port", str(port), "--api-port", str(port), "--emulator-port", "0"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"labeltune local up: port {port} is given to both --moto-port and --api-port; choose another with --api-port"
    )


# -- the stack itself: readiness with timeouts, and cleanup when a later step fails --------------------------


def stack_threads() -> set[threading.Thread]:
    """The stack's server threads alive now (tests/e2e's stack may be running in this process too)."""
    return {t for t in threading.enumerate() if t.name.startswith(STACK_THREADS) and t.is_alive()}


def can_listen(port: int) -> bool:
    try:
        stack_module.listen_socket("test", port).close()
    except StackError:
        return False
    return True


def eventually(check: Any, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_taken_port_fails_before_anything_starts(taken_port: int) -> None:
    before, threads = dict(os.environ), stack_threads()
    with pytest.raises(PortInUse) as error:
        EmbeddedStack(options=StackOptions(moto_port=0, api_port=0, emulator_port=taken_port)).start()
    assert (error.value.setting, error.value.port) == ("emulator_port", taken_port)
    assert dict(os.environ) == before
    assert stack_threads() == threads


def test_a_failure_after_servers_started_stops_them_and_restores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the template could not be read")

    monkeypatch.setattr(stack_module, "build_resources", broken)
    moto_port, emulator_port, api_port = free_port(), free_port(), free_port()
    options = StackOptions(moto_port=moto_port, emulator_port=emulator_port, api_port=api_port)
    before, threads = dict(os.environ), stack_threads()
    with pytest.raises(RuntimeError, match="template"):
        EmbeddedStack(options=options).start()
    assert dict(os.environ) == before
    assert eventually(lambda: stack_threads() == threads), stack_threads() - threads
    assert all(can_listen(port) for port in (moto_port, emulator_port, api_port))


def test_a_silent_server_is_a_timeout_with_a_clear_message() -> None:
    with socket.socket() as silent:  # listens, never answers: moto hung at start-up
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/moto-api/config"
        started = time.monotonic()
        with pytest.raises(StackError, match=r"^moto did not answer .*/moto-api/config within 0.5 s"):
            stack_module._post_json(url, {}, "moto", timeout=0.5)
        assert time.monotonic() - started < 5


# A whole stack once per interpreter: moto keeps its resources in module globals, so a second stack in the
# test process (or next to tests/e2e's) would find them there. These run in their own Python.
STACK_SCRIPT_HEAD = """
import os, sys, threading, time, types, urllib.request
from labeltune_tools.embedded.stack import EmbeddedStack, StackError, StackOptions, free_port, listen_socket

async def app(scope, receive, send):  # the routes are not under test: start-up is
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})

sys.modules["labeltune.handlers.api"] = types.SimpleNamespace(app=app, local_app=lambda: app)
STACK_THREADS = ("labeltune-moto", "labeltune-api", "openai-emulator")

def stack_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith(STACK_THREADS) and t.is_alive()]

def eventually(check, seconds=5):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, check
        time.sleep(0.05)

def can_listen(port):
    try:
        listen_socket("test", port).close()
    except StackError:
        return False
    return True
"""


def run_stack_script(body: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", STACK_SCRIPT_HEAD + textwrap.dedent(body) + "\nprint('SCRIPT OK')\n"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "SCRIPT OK" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]


def test_an_api_that_never_comes_up_is_an_error_not_a_hang() -> None:
    run_stack_script(
        """
        import uvicorn

        uvicorn.Server.run = lambda self, sockets=None: None  # ends without serving
        api_port = free_port()
        before = dict(os.environ)
        started = time.monotonic()
        try:
            EmbeddedStack(options=StackOptions(api_port=api_port)).start()
        except StackError as error:
            assert str(error) == f"the local API (uvicorn) stopped while starting on port {api_port}", error
        else:
            raise AssertionError("started")
        assert time.monotonic() - started < 15
        assert dict(os.environ) == before
        eventually(lambda: stack_threads() == [])
        assert can_listen(api_port)
        """
    )


def test_port_zero_still_means_any_free_port_and_stop_frees_them() -> None:
    run_stack_script(
        """
        before = dict(os.environ)
        with EmbeddedStack(options=StackOptions()) as local:
            urls = (local.moto_url, local.api_url, local.emulator.base_url)
            ports = [int(url.rsplit(":", 1)[1].split("/")[0]) for url in urls]
            assert all(ports) and len(set(ports)) == 3, ports
            with urllib.request.urlopen(local.api_url, timeout=10) as response:
                assert response.read() == b"ok"
            assert local.client("s3").list_buckets()["Buckets"]  # moto answers on its port
        assert dict(os.environ) == before
        eventually(lambda: stack_threads() == [])
        eventually(lambda: all(can_listen(port) for port in ports))
        """
    )


# -- the happy path still works: local up on free ports, stopped by Ctrl-C -----------------------------------


@pytest.mark.timeout(120)  # a hang fails the test; `finally` then kills the command
def test_local_up_on_free_ports_serves_until_interrupted() -> None:
    import re

    with local_up() as lines:
        found = re.search(r"^API:\s+(\S+)", "\n".join(lines), re.M)
        assert found, "\n".join(lines)
        # The management routes need SigV4 (the local_auth credentials), as in a deployed stack. The CLI runs in
        # its own process, on the same clock as the stack (this one's is moved ahead under `make test-later`).
        url = found.group(1)
        signed = run_cli("projects", "get", "clx-support-summaries-demo", "--local", "--api-url", url, "--json")
        assert signed.returncode == 0, signed.stderr
        assert json.loads(signed.stdout)["project_id"] == "clx-support-summaries-demo"
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(f"{url}/projects/clx-support-summaries-demo", timeout=30)
        assert unsigned.value.code == 403
