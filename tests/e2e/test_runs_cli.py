"""The `labeltune runs`/`projects` CLI against the local stack over HTTP, with signatures required as in a
deployed stack (StackOptions.require_signed): the CLI signs with the local credentials, the stack verifies.

The stack runs in its own Python (moto keeps its resources in module globals, and this directory's session stack
may be up); the CLI runs in this one, as `labeltune_tools.cli.main`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labeltune_tools.cli import main
from labeltune_tools.embedded.sigv4 import FORBIDDEN, MISMATCH, UNKNOWN_KEY
from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY

from .conftest import http

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "project-cli-signed"
SCRIPT = textwrap.dedent(
    f"""
    import json
    import sys
    from pathlib import Path

    from labeltune_tools.embedded.stack import EmbeddedStack, StackOptions

    # This process keeps the test's clock (moved ahead under `make test-later`), so the signatures' dates agree.
    import time_machine
    from datetime import datetime
    time_machine.travel(datetime.fromisoformat(sys.argv[2]), tick=True).start()

    # The example export's rows, filed under the test's project.
    records = [json.loads(line) for line in Path("examples/labelbox_export.ndjson").read_text().splitlines()]
    for record in records:
        record["projects"] = {{"{PROJECT}": next(iter(record["projects"].values()))}}
    export = Path(sys.argv[1])
    export.write_text("\\n".join(json.dumps(record) for record in records))

    options = StackOptions(
        require_signed=True, job_duration_seconds=1.0, default_provider="openai", fallback_check_seconds=8
    )
    with EmbeddedStack(options=options) as stack:
        stack.upload_export("{PROJECT}", export)
        stack.webhook_secret("{PROJECT}")
        print(stack.api_url, flush=True)
        sys.stdin.read()  # until the test closes it
    """
)


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    export = tmp_path_factory.mktemp("export") / "export.ndjson"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(export), datetime.now(UTC).isoformat()],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), f"the stack did not start (exit {process.poll()})"
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def cli(api_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--local", "--api-url", api_url])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def signed(
    method: str, url: str, *, key: str = LOCAL_ACCESS_KEY_ID, secret: str = LOCAL_SECRET_ACCESS_KEY
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=b"")
    SigV4Auth(Credentials(key, secret), "execute-api", LOCAL_REGION).add_auth(request)
    return dict(request.headers.items())


def test_the_cli_configures_starts_watches_lists_and_shows_runs(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"min_new_labels": 3}))
    code, out, err = cli(api_url, capsys, "projects", "put", PROJECT, "--file", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["min_new_labels"] == 3
    code, out, _ = cli(api_url, capsys, "projects", "get", PROJECT, "--json")
    assert code == 0 and json.loads(out)["config"]["min_new_labels"] == 3

    run_ids = []
    for _ in range(2):
        code, out, err = cli(api_url, capsys, "runs", "start", PROJECT, "--json")
        assert code == 0, err
        run_id = json.loads(out)["run_id"]
        run_ids.append(run_id)
        code, out, err = cli(api_url, capsys, "runs", "watch", run_id, "--interval", "0.5", "--timeout", "150")
        assert code == 0, out + err
        lines = out.splitlines()
        assert "status: SUCCEEDED" in lines[-1] and "job: succeeded" in lines[-1]
        assert "evaluation: ROUGE-L" in lines[-1] and "gate: " in lines[-1]
        assert len(lines) == len(set(lines)) >= 2  # a line only when something changed

    code, out, _ = cli(api_url, capsys, "runs", "list", PROJECT, "--limit", "1", "--all", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [run["run_id"] for run in listed["runs"]] == run_ids[::-1] and listed["next_token"] is None
    code, out, _ = cli(api_url, capsys, "runs", "list", PROJECT)
    assert [line.split()[0] for line in out.splitlines()[1:3]] == run_ids[::-1]

    code, out, _ = cli(api_url, capsys, "runs", "show", run_ids[0])
    assert code == 0
    assert out.splitlines()[0].split() == ["run:", run_ids[0]]
    assert any(line.startswith("status:") and line.endswith("SUCCEEDED") for line in out.splitlines())
    code, out, _ = cli(api_url, capsys, "runs", "show", run_ids[0], "--json")
    assert json.loads(out)["run_id"] == run_ids[0]


def test_a_run_cancelled_at_once_ends_cancelled_and_shows_its_timeline(
    api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = http(
        "GET",
        f"{api_url}/runs/run-unknown-zz/timeline",
        headers=signed("GET", f"{api_url}/runs/run-unknown-zz/timeline"),
    )
    assert status == 404
    code, out, err = cli(api_url, capsys, "runs", "start", PROJECT, "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, err = cli(api_url, capsys, "runs", "cancel", run_id, "--wait", "--interval", "0.5", "--timeout", "120")
    assert code == 3, out + err
    assert out.splitlines()[0].startswith(f"cancel requested for {run_id}")
    assert "status: CANCELLED" in out.splitlines()[-1]
    code, out, _ = cli(api_url, capsys, "runs", "show", run_id, "--timeline")
    # Stopped at once (ABORTED), or its first step saw the cancel first and the run's failure path closed it
    # as cancelled (FAILED execution): either way the run is CANCELLED and nothing reached a provider.
    assert code == 0 and "STATE" in out and ("execution: ABORTED" in out or "execution: FAILED" in out), out
    assert "status:           CANCELLED" in out
    code, out, _ = cli(api_url, capsys, "runs", "cancel", run_id, "--json")  # idempotent
    assert code == 0 and json.loads(out)["status"] == "CANCELLED"


def test_management_routes_refuse_unsigned_and_badly_signed_requests(api_url: str) -> None:
    url = f"{api_url}/projects/{PROJECT}"
    assert http("GET", url) == (403, {"message": FORBIDDEN})
    assert http("POST", f"{url}/runs") == (403, {"message": FORBIDDEN})
    assert http("get", url) == (403, {"message": FORBIDDEN})  # a lower-case method reaches the same route
    assert http("GET", url, headers=signed("GET", url, secret="not-the-secret")) == (403, {"message": MISMATCH})
    assert http("GET", url, headers=signed("GET", url, key="AKIDSOMEONEELSE")) == (403, {"message": UNKNOWN_KEY})
    # Signed for one project, sent for another; signed for one query, sent with another.
    other = f"{api_url}/projects/{PROJECT}-other"
    assert http("GET", other, headers=signed("GET", url)) == (403, {"message": MISMATCH})
    runs = f"{url}/runs?limit=1"
    assert http("GET", f"{url}/runs?limit=2", headers=signed("GET", runs)) == (403, {"message": MISMATCH})
    status, body = http("GET", url, headers=signed("GET", url))
    assert status == 200 and body["project_id"] == PROJECT


def test_the_cli_reports_a_refused_signature_in_one_line(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The user's own credentials (the environment, as boto3's chain finds them), with a secret the stack refuses.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code = main(["projects", "get", PROJECT, "--api-url", api_url, "--region", LOCAL_REGION])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        err == f"labeltune projects get: HTTP 403 {MISMATCH}: the request's SigV4 signature was refused, or these "
        "credentials may not call execute-api:Invoke on this API\n"
    )
    code = main(["projects", "get", PROJECT, "--api-url", api_url, "--region", LOCAL_REGION, "--profile", "nope-zz"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nope-zz" in err  # no such profile


def test_the_webhook_route_needs_no_signature(api_url: str) -> None:
    status, body = http("POST", f"{api_url}/webhooks/labelbox", b"{}", {"Content-Type": "application/json"})
    assert status != 403 and status < 500  # the function's own HMAC check answers, not the IAM authorisation
    assert body != {"message": FORBIDDEN}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_signs_what_the_stack_verifies(api_url: str) -> None:
    """curl's own SigV4 signer (--aws-sigv4): an implementation independent of botocore and of the verifier."""
    from time_machine import escape_hatch

    if escape_hatch.is_travelling():  # curl dates its signature by the real clock, the stack by the test's
        pytest.skip("the suite's clock is moved ahead (make test-later): curl signs with the real one")
    url = f"{api_url}/projects/{PROJECT}/runs?limit=1"

    def curl(user: str) -> tuple[int, Any]:
        result = subprocess.run(
            [
                "curl",
                "-s",
                "-w",
                "\n%{http_code}",
                "--aws-sigv4",
                f"aws:amz:{LOCAL_REGION}:execute-api",
                "--user",
                user,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        body, _, status = result.stdout.rpartition("\n")
        return int(status), json.loads(body)

    status, body = curl(f"{LOCAL_ACCESS_KEY_ID}:{LOCAL_SECRET_ACCESS_KEY}")
    assert status == 200 and body["project_id"] == PROJECT and len(body["runs"]) <= 1
    assert curl(f"{LOCAL_ACCESS_KEY_ID}:wrong") == (403, {"message": MISMATCH})
    assert urllib.parse.urlsplit(url).query == "limit=1"
