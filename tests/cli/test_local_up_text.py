"""What `labeltune local up` prints: the webhook URL on its own line, a signed webhook curl and a SigV4 curl that
work as printed (run against the real command's stack), and that state does not survive a restart."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from labeltune.domain.signature import verify_signature
from labeltune.domain.webhook import parse_delivery
from labeltune_tools.commands.local import local_up_lines
from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY
from tests.cli.local_up_process import local_up

PROJECT = "clx-support-summaries-demo"
SECRET = "whsec-test-only-0123456789"


def lines_for(api_url: str = "http://127.0.0.1:8000", signed: bool = True) -> list[str]:
    return local_up_lines(
        api_url=api_url,
        project=PROJECT,
        webhook_secret=SECRET,
        moto_url="http://127.0.0.1:5000",
        emulator_url="http://127.0.0.1:8100/v1",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:labeltune-local-pipeline",
        table_name="labeltune-local-RunsTable",
        bucket_name="labeltune-local-artifactsbucket",
        services={"OpenAI API": "labeltune's emulator"},
        signed=signed,
    )


def commands(lines: list[str]) -> dict[str, list[str]]:
    """The printed commands, split as a shell would: the webhook curl, the SigV4 curls and the CLI line."""
    found: dict[str, list[str]] = {}
    for line in lines:
        words = shlex.split(line.split("   (", 1)[0]) if line.startswith("  curl ") else []
        if words and "/webhooks/labelbox" in line:
            found["webhook"] = words
        elif words and "-X" in words:
            found["sigv4-post"] = words
        elif words:
            found["sigv4"] = words
        elif line.startswith("  labeltune runs"):
            found["cli"] = shlex.split(line)
    return found


def curl_request(words: list[str]) -> tuple[str, str, dict[str, str], bytes]:
    """The method, URL, headers and body a curl command line (as printed) sends."""
    method, headers, body, url = "GET", {}, b"", ""
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(": ")
            headers[name] = value
        elif word == "--data-raw":
            body, method = next(rest).encode(), method if method != "GET" else "POST"
        elif word in ("--aws-sigv4", "--user"):
            next(rest)
        elif not word.startswith("-"):
            url = word
    return method, url, headers, body


def test_the_webhook_url_has_a_line_of_its_own() -> None:
    assert "Webhook URL: http://127.0.0.1:8000/webhooks/labelbox" in lines_for()


def test_the_webhook_curl_is_signed_as_labelbox_signs_with_the_projects_secret() -> None:
    method, url, headers, body = curl_request(commands(lines_for())["webhook"])
    assert (method, url) == ("POST", "http://127.0.0.1:8000/webhooks/labelbox")
    assert verify_signature(SECRET, body, headers)  # X-Hub-Signature-256: sha256=HMAC(secret, body)
    assert not verify_signature("another project's secret", body, headers)
    assert headers["X-Hub-Signature-256"].startswith("sha256=")
    assert headers["X-Labelbox-Event"] == "WORKFLOW_ACTION" and headers["X-Labelbox-Id"]
    delivery = parse_delivery(json.loads(body), headers)
    assert delivery.project_id == PROJECT and delivery.topic is not None and delivery.topic.value == "WORKFLOW_ACTION"


def test_the_management_examples_sign_with_the_local_credentials() -> None:
    found = commands(lines_for())
    assert found["sigv4"] == [
        "curl",
        "-sS",
        "--aws-sigv4",
        "aws:amz:us-east-1:execute-api",
        "--user",
        f"{LOCAL_ACCESS_KEY_ID}:{LOCAL_SECRET_ACCESS_KEY}",
        f"http://127.0.0.1:8000/projects/{PROJECT}/runs",
    ]
    assert found["sigv4-post"][:4] == ["curl", "-sS", "-X", "POST"]
    assert found["cli"] == ["labeltune", "runs", "list", PROJECT, "--local"]


def test_it_says_state_does_not_survive_a_restart_and_how_to_keep_files() -> None:
    text = "\n".join(lines_for())
    assert "State does NOT survive a restart" in text and "labeltune demo --keep DIR" in text
    assert "refuses unsigned management requests" in text
    assert "does not check the signature" in "\n".join(lines_for(signed=False))


def send(words: list[str]) -> tuple[int, str]:
    """Run a printed curl as printed (curl on PATH), else send the same request with urllib (unsigned curls
    only: urllib does not sign)."""
    if shutil.which("curl"):
        result = subprocess.run(
            [*words, "-o", "-", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30, check=False
        )
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body
    assert "--aws-sigv4" not in words, "no curl here to sign with"
    method, url, headers, data = curl_request(words)
    request = urllib.request.Request(url, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.timeout(150)
def test_the_printed_commands_work_against_the_running_local_stack() -> None:
    with local_up() as lines:
        printed = "\n".join(lines)
        url = re.search(r"^Webhook URL: (http://127\.0\.0\.1:\d+/webhooks/labelbox)$", printed, re.M)
        assert url, printed
        found = commands(lines)
        assert found["webhook"][4] == url.group(1)
        status, body = send(found["webhook"])
        assert 200 <= status < 300, (status, body)
        first = json.loads(body)
        assert first["project_id"] == PROJECT and first["delivery_id"] == "curl-delivery-1" and first["run_id"]
        # Pasted again: the same delivery, answered as the first time (no second run).
        status, body = send(found["webhook"])
        assert 200 <= status < 300 and json.loads(body)["run_id"] == first["run_id"], body
        if shutil.which("curl"):
            status, body = send(found["sigv4"])
            assert status == 200, (status, body)
            runs = json.loads(body)
            assert runs["project_id"] == PROJECT and first["run_id"] in [run["run_id"] for run in runs["runs"]]
            # The same request unsigned is refused: the stack checks the signature the curl made.
            unsigned = [word for word in found["sigv4"] if word not in ("--aws-sigv4", "--user")]
            unsigned = [word for word in unsigned if not word.startswith(("aws:amz:", f"{LOCAL_ACCESS_KEY_ID}:"))]
            assert send(unsigned)[0] == 403
