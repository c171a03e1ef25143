"""The API client and the `runs`/`projects` commands against a fake API over HTTP that checks every request's
SigV4 signature with the local stack's verifier (an implementation independent of botocore's signer)."""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from labeltune_tools import api_client
from labeltune_tools.api_client import ApiError, SetupError
from labeltune_tools.cli import main
from labeltune_tools.commands import runs as runs_command
from labeltune_tools.commands.projects import read_config
from labeltune_tools.embedded import sigv4
from labeltune_tools.embedded.stack import free_port
from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY


class FakeApi:
    """Answers (method, path) with scripted (status, body) answers, the last one repeated; refuses any request
    whose signature the verifier refuses, as the local stack does with require_signed."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                headers = tuple(self.headers.items())
                request = sigv4.Request(self.command, path, query, headers, body)
                amz = self.headers.get("X-Amz-Date") or "20000101T000000Z"
                signed_at = datetime.strptime(amz, sigv4.AMZ_DATE_FORMAT).replace(tzinfo=UTC)
                verdict = sigv4.verify(
                    request, {LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY}.get, signed_at, region=LOCAL_REGION
                )
                fake.requests.append((self.command, self.path, dict(self.headers.items()), body))
                if not verdict.ok:
                    status, answer = 403, verdict.body()
                else:
                    script = fake.answers.get((self.command, path)) or [(404, {"message": "Not Found"})]
                    status, answer = script.pop(0) if len(script) > 1 else script[0]
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def on(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.answers[(method, path)] = list(answers)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def local(api: FakeApi) -> list[str]:
    return ["--local", "--api-url", api.url]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


RUN = {"run_id": "run-a", "project_id": "p1", "status": "SUCCEEDED", "provider": "openai"}


# -- the client -----------------------------------------------------------------------------------------


def test_requests_are_signed_and_the_query_survives_verification(api: FakeApi) -> None:
    api.on("GET", "/projects/p1/runs", (200, {"project_id": "p1", "runs": [], "next_token": None}))
    client = api_client.from_options(local=True, api_url=api.url)
    assert client.get("/projects/p1/runs", query={"limit": 1, "next_token": "a b/+="})["runs"] == []
    _, path, headers, _ = api.requests[-1]
    assert path == "/projects/p1/runs?limit=1&next_token=a%20b%2F%2B%3D"
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LOCAL_ACCESS_KEY_ID}/")
    assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]


class Rotating:
    """Refreshable credentials (an assumed role, SSO): each freeze may give newer keys."""

    def __init__(self) -> None:
        self.frozen = 0

    def get_frozen_credentials(self) -> Credentials:
        self.frozen += 1
        return Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, token=f"session-{self.frozen}")


def test_credentials_are_frozen_per_request_so_a_long_watch_outlives_a_roles_keys(api: FakeApi) -> None:
    api.on("GET", "/runs/run-a", (200, {"run_id": "run-a", "status": "TRAINING"}))
    credentials = Rotating()
    client = api_client.ApiClient(api.url, credentials, LOCAL_REGION)
    client.get("/runs/run-a")
    client.get("/runs/run-a")
    tokens = [headers.get("X-Amz-Security-Token") for _, _, headers, _ in api.requests[-2:]]
    assert credentials.frozen == 2 and tokens == ["session-1", "session-2"]


def test_a_refused_signature_is_one_line_naming_403(api: FakeApi) -> None:
    client = api_client.ApiClient(api.url, None, LOCAL_REGION)  # unsigned
    with pytest.raises(ApiError) as refused:
        client.get("/runs/run-a")
    assert refused.value.status == 403
    assert str(refused.value).startswith("HTTP 403 Forbidden: the request's SigV4 signature was refused")


def test_api_errors_carry_the_apis_message_and_errors(api: FakeApi) -> None:
    errors = [{"field": "limit", "message": "must be from 1 to 100"}, {"field": "next_token", "message": "invalid"}]
    api.on("GET", "/projects/p1/runs", (400, {"message": "invalid query", "errors": errors}))
    with pytest.raises(ApiError) as bad:
        api_client.from_options(local=True, api_url=api.url).get("/projects/p1/runs")
    assert str(bad.value) == "HTTP 400 invalid query (limit: must be from 1 to 100; next_token: invalid)"


def test_connection_refused_says_whether_the_local_stack_runs() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError, match=r"connection refused \(is `labeltune local up` running\?\)"):
        api_client.from_options(local=True, api_url=url).get("/runs/r")
    deployed = api_client.ApiClient(url, None, "eu-west-1")
    with pytest.raises(ApiError) as refused:
        deployed.get("/runs/r")
    assert str(refused.value) == f"cannot connect to {url}: connection refused"


class FakeSession:
    def __init__(self, credentials: Any = None, region: str | None = "eu-west-1", client: Any = None) -> None:
        self.credentials, self.region_name, self._client = credentials, region, client
        self.asked: list[tuple[str, str]] = []

    def get_credentials(self) -> Any:
        return self.credentials

    def client(self, service: str, region_name: str) -> Any:
        self.asked.append((service, region_name))
        return self._client


class Frozen:
    def get_frozen_credentials(self) -> str:
        return "frozen"


def cloudformation(region: str = "eu-west-1") -> tuple[Any, Stubber]:
    import boto3

    client = boto3.client("cloudformation", region_name=region, aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def stack_answer(outputs: list[dict[str, str]]) -> dict[str, Any]:
    stack = {"StackName": "lt", "CreationTime": datetime(2025, 1, 1, tzinfo=UTC), "StackStatus": "CREATE_COMPLETE"}
    return {"Stacks": [{**stack, "Outputs": outputs}]}


def test_stack_resolves_the_api_url_from_its_outputs() -> None:
    client, stubber = cloudformation()
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/"
    outputs = [
        {"OutputKey": "WebhookUrl", "OutputValue": url + "webhooks/labelbox"},
        {"OutputKey": "ApiUrl", "OutputValue": url},
    ]
    stubber.add_response("describe_stacks", stack_answer(outputs), {"StackName": "lt"})
    session = FakeSession(Frozen(), client=client)
    with stubber:
        resolved = api_client.from_options(stack="lt", session_factory=lambda **_: session)
    # The session's (refreshable) credentials are kept and frozen per request: a long `watch` outlives a role's.
    assert (resolved.base_url, resolved.region, resolved.credentials.get_frozen_credentials()) == (
        url,
        "eu-west-1",
        "frozen",
    )
    assert session.asked == [("cloudformation", "eu-west-1")]


def test_stack_errors_are_one_line() -> None:
    client, stubber = cloudformation()
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id nope does not exist")
    stubber.add_response("describe_stacks", stack_answer([{"OutputKey": "Other", "OutputValue": "x"}]))
    session = FakeSession(Frozen(), client=client)
    with stubber:
        with pytest.raises(SetupError, match=r"^no CloudFormation stack named nope in eu-west-1$"):
            api_client.from_options(stack="nope", session_factory=lambda **_: session)
        with pytest.raises(SetupError, match=r"^stack lt has no ApiUrl output: is it a labeltune stack\?$"):
            api_client.from_options(stack="lt", session_factory=lambda **_: session)


def test_credentials_region_and_option_mistakes() -> None:
    with pytest.raises(SetupError, match="no AWS credentials found"):
        api_client.from_options(stack="lt", session_factory=lambda **_: FakeSession(None))
    with pytest.raises(SetupError, match="no AWS region"):
        api_client.from_options(stack="lt", session_factory=lambda **_: FakeSession(Frozen(), region=None))
    with pytest.raises(SetupError, match="say which API"):
        api_client.from_options()
    with pytest.raises(SetupError, match="not both"):
        api_client.from_options(stack="lt", api_url="https://x")
    with pytest.raises(SetupError, match="not an http"):
        api_client.from_options(local=True, api_url="ftp://x")
    # The region of an execute-api URL is the signature's region, whatever the AWS config says.
    signed = api_client.from_options(
        api_url="https://abc123.execute-api.ap-south-1.amazonaws.com/",
        session_factory=lambda **_: FakeSession(Frozen()),
    )
    assert signed.region == "ap-south-1"
    assert api_client.from_options(local=True).base_url == api_client.LOCAL_API_URL


# -- the commands over HTTP -----------------------------------------------------------------------------


def test_runs_list_all_follows_next_token(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    pages = [
        (200, {"project_id": "p1", "runs": [{**RUN, "run_id": "run-c"}], "next_token": "t1"}),
        (200, {"project_id": "p1", "runs": [{**RUN, "run_id": "run-b"}], "next_token": "t2"}),
        (200, {"project_id": "p1", "runs": [RUN], "next_token": None}),
    ]
    api.on("GET", "/projects/p1/runs", *pages)
    code, out, _ = run_cli(["runs", "list", "p1", "--limit", "1", "--all", "--json", *local(api)], capsys)
    assert code == 0
    assert [run["run_id"] for run in json.loads(out)["runs"]] == ["run-c", "run-b", "run-a"]
    assert [path for _, path, _, _ in api.requests] == [
        "/projects/p1/runs?limit=1",
        "/projects/p1/runs?limit=1&next_token=t1",
        "/projects/p1/runs?limit=1&next_token=t2",
    ]


def test_runs_list_one_page_is_the_apis_json_or_a_table(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    page = {"project_id": "p1", "runs": [RUN], "next_token": "t1"}
    api.on("GET", "/projects/p1/runs", (200, page))
    code, out, _ = run_cli(["runs", "list", "p1", "--json", *local(api)], capsys)
    assert (code, json.loads(out)) == (0, page)
    code, out, _ = run_cli(["runs", "list", "p1", *local(api)], capsys)
    assert out.splitlines()[0].split() == ["RUN", "STATUS", "PROVIDER", "STARTED", "DURATION", "GATE"]
    assert out.splitlines()[1].split()[:3] == ["run-a", "SUCCEEDED", "openai"]
    assert out.splitlines()[-1] == "(more runs: --all lists every page)"


def test_errors_exit_1_for_the_api_and_2_for_setup(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/runs/run-x", (404, {"message": "no such run", "run_id": "run-x"}))
    code, out, err = run_cli(["runs", "show", "run-x", *local(api)], capsys)
    assert (code, out, err) == (1, "", "labeltune runs show: HTTP 404 no such run\n")
    code, _, err = run_cli(["runs", "show", "run-x"], capsys)
    assert code == 2 and err.startswith("labeltune runs show: say which API")
    with pytest.raises(SystemExit) as usage:
        main(["runs", "list", "p1", "--limit", "0", "--local"])
    assert usage.value.code == 2


def test_runs_start_and_cancel(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/projects/p1/runs", (202, {"run_id": "run-n", "project_id": "p1"}))
    code, out, _ = run_cli(["runs", "start", "p1", "--idempotency-key", "k-1", *local(api)], capsys)
    assert (code, out) == (0, "run run-n started for project p1\n")
    assert api.requests[-1][2]["Idempotency-Key"] == "k-1"
    cancelled = {"run_id": "run-n", "status": "TRAINING", "cancel_requested_at": "2025-01-01T00:00:00+00:00"}
    api.on("POST", "/runs/run-n/cancel", (202, cancelled))
    code, out, _ = run_cli(["runs", "cancel", "run-n", "--json", *local(api)], capsys)
    assert (code, json.loads(out)) == (0, cancelled)
    api.on("POST", "/runs/run-s/cancel", (409, {"message": "the run already SUCCEEDED", "run_id": "run-s"}))
    code, _, err = run_cli(["runs", "cancel", "run-s", *local(api)], capsys)
    assert (code, err) == (1, "labeltune runs cancel: HTTP 409 the run already SUCCEEDED\n")


def test_projects_put_from_stdin_and_get(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = {"project_id": "p1", "config": {"min_new_labels": 3, "provider": "openai"}}
    api.on("PUT", "/projects/p1", (200, stored))
    api.on("GET", "/projects/p1", (200, stored))
    monkeypatch.setattr("sys.stdin", io.StringIO('{"min_new_labels": 3}'))
    code, out, _ = run_cli(["projects", "put", "p1", "--file", "-", "--json", *local(api)], capsys)
    assert (code, json.loads(out)) == (0, stored)
    assert json.loads(api.requests[-1][3]) == {"min_new_labels": 3}
    code, out, _ = run_cli(["projects", "get", "p1", *local(api)], capsys)
    assert out.splitlines() == ["project_id: p1", 'config:     {"min_new_labels": 3, "provider": "openai"}']


def test_read_config_refuses_what_is_not_a_json_object(tmp_path: Any) -> None:
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SetupError, match="must hold a JSON object"):
        read_config(str(tmp_path / "list.json"))
    with pytest.raises(SetupError, match="is not JSON"):
        read_config(str(tmp_path / "bad.json"))
    with pytest.raises(SetupError, match="cannot read"):
        read_config(str(tmp_path / "missing.json"))


# -- watch ----------------------------------------------------------------------------------------------


class FakeClocks(runs_command.Clocks):
    """Time passes only when watch sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(sleep=self._sleep, monotonic=lambda: self.now)

    def _sleep(self, seconds: float) -> None:
        self.now += seconds


def state(name: str, outcome: str = "running") -> dict[str, Any]:
    return {
        "name": name,
        "entered_at": "2025-01-01T00:00:00Z",
        "exited_at": None,
        "duration_seconds": None,
        "outcome": outcome,
    }


@pytest.mark.parametrize(("final", "code"), [("SUCCEEDED", 0), ("FAILED", 1), ("CANCELLED", 3)])
def test_watch_prints_changes_only_and_exits_with_the_outcome(api: FakeApi, final: str, code: int) -> None:
    base = {"run_id": "run-w", "project_id": "p1"}
    api.on(
        "GET",
        "/runs/run-w",
        (200, {**base, "status": "PREPARING"}),
        (200, {**base, "status": "PREPARING"}),
        (200, {**base, "status": "TRAINING", "train_examples": 40, "job_status": "running"}),
        (200, {**base, "status": final, "train_examples": 40, "job_status": "succeeded", "trained_tokens": 900}),
    )
    timeline = {"run_id": "run-w", "states": [state("PrepareDataset")]}
    api.on("GET", "/runs/run-w/timeline", (200, timeline))
    out = io.StringIO()
    client = api_client.from_options(local=True, api_url=api.url)
    assert runs_command.watch(client, "run-w", out, interval=2, clocks=FakeClocks()) == code
    lines = out.getvalue().splitlines()
    assert lines == [
        "[     0s] status: PREPARING | state: PrepareDataset",
        "[     4s] status: TRAINING | state: PrepareDataset | dataset: train 40 | job: running",
        f"[     6s] status: {final} | state: PrepareDataset | dataset: train 40 | job: succeeded, 900 trained tokens",
    ]


def test_watch_times_out_with_4_and_works_without_a_timeline_route(api: FakeApi) -> None:
    api.on("GET", "/runs/run-t", (200, {"run_id": "run-t", "status": "TRAINING"}))
    out = io.StringIO()
    client = api_client.from_options(local=True, api_url=api.url)
    assert runs_command.watch(client, "run-t", out, interval=5, timeout=12, clocks=FakeClocks()) == 4
    assert out.getvalue().splitlines() == [
        "[     0s] status: TRAINING | state: TRAINING",
        "timed out after 12s; the run goes on",
    ]
    # The timeline route answered 404 (an API without it) once, and was not asked again.
    asked = [path for _, path, _, _ in api.requests]
    assert asked.count("/runs/run-t/timeline") == 1 and asked.count("/runs/run-t") == 4


def test_watch_rides_out_throttling(api: FakeApi) -> None:
    api.on(
        "GET", "/runs/run-r", (429, {"message": "Too Many Requests"}), (200, {"run_id": "run-r", "status": "SUCCEEDED"})
    )
    api.on("GET", "/runs/run-r/timeline", (200, {"run_id": "run-r", "states": []}))
    out = io.StringIO()
    client = api_client.from_options(local=True, api_url=api.url)
    assert runs_command.watch(client, "run-r", out, interval=1, clocks=FakeClocks()) == 0
    assert out.getvalue() == "[     1s] status: SUCCEEDED | state: SUCCEEDED\n"


def test_the_query_the_client_sends_is_the_one_it_signed(api: FakeApi) -> None:
    """urlencode with quote (not quote_plus): a space is %20 in both the URL and the canonical query."""
    client = api_client.from_options(local=True, api_url=api.url + "/")
    url = client.url("/projects/p1/runs", {"next_token": "a b", "limit": None})
    assert urllib.parse.urlsplit(url).query == "next_token=a%20b"
    assert url.startswith(api.url + "/projects/")
