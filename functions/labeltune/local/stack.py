"""The embedded local stack: moto (AWS), the OpenAI emulator, and the API under uvicorn, in one process.

Nothing here talks to a real service. moto runs the real state machine definition and invokes the
real handlers in process; the API is the same Powertools app the Lambda uses; OpenAI is our
emulator; Labelbox is replaced by an export file uploaded to the bucket (the `s3` label source).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from labeltune.adapters.label_sources import export_snapshot_key
from labeltune.emulator import OpenAIEmulator
from labeltune.local.lambda_runtime import RUNTIME
from labeltune.local.moto_dynamodb import make_moto_dynamodb_atomic
from labeltune.local.resources import LocalResources, build_resources

REGION = "us-east-1"
LOCAL_SECRETS = {
    "OpenAIApiKeySecret": "sk-local-emulator-not-a-real-key",
    "LabelboxApiKeySecret": "local-export-file-not-a-real-key",
}
# Local-only settings: no X-Ray daemon and no CloudWatch here.
LOCAL_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
EMULATED = {
    "AWS (S3, DynamoDB, Step Functions, Lambda, Secrets Manager, IAM)": "moto, in process",
    "Lambda runtime": "real handlers imported and called in process",
    "API Gateway HTTP API": "uvicorn serving the same Powertools app",
    "OpenAI API": "labeltune's emulator (deterministic stand-in models, not real model quality)",
    "Labelbox": "an export file uploaded to the bucket instead of a Labelbox export",
}


def repo_root() -> Path:
    """The checkout holding template.yaml (this package lives in <root>/functions/labeltune)."""
    return Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StackOptions:
    poll_interval_seconds: int = 1
    job_duration_seconds: float = 3.0
    min_examples: int = 10
    api_port: int = 0
    moto_port: int = 0
    emulator_port: int = 0
    # Real services instead of the stand-ins (keys go into the local Secrets Manager, never the environment
    # of the functions). A real OpenAI key creates real, paid fine-tuning jobs.
    openai_api_key: str | None = None
    labelbox_api_key: str | None = None

    def emulated(self) -> dict[str, str]:
        """What this stack emulates, for printing next to any result."""
        services = dict(EMULATED)
        if self.openai_api_key:
            services["OpenAI API"] = "REAL (api.openai.com, paid)"
        if self.labelbox_api_key:
            services["Labelbox"] = "REAL (Labelbox export API)"
        return services


class _ApiWithFunctionEnvironment:
    """ASGI wrapper: each request runs with the ApiFunction's environment, as in its own Lambda."""

    def __init__(self, app: Any, name: str, variables: dict[str, str]) -> None:
        self.app, self.name, self.variables = app, name, variables

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await asyncio.to_thread(RUNTIME.enter_function, self.name, self.variables)
        try:
            await self.app(scope, receive, send)
        finally:
            RUNTIME.exit_function()


class LocalStack:
    def __init__(self, root: Path | None = None, options: StackOptions | None = None) -> None:
        self.root = root or repo_root()
        self.options = options or StackOptions()
        self.resources: LocalResources | None = None
        self.emulator: OpenAIEmulator | None = None
        self.moto_url = ""
        self.api_url = ""
        self._moto: Any = None
        self._uvicorn: Any = None
        self._saved_env: dict[str, str] = {}

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log is noise here

        moto_port = self.options.moto_port or free_port()
        self._saved_env = dict(os.environ)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
                "MOTO_PORT": str(moto_port),
            }
        )
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        _post_json(f"{self.moto_url}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        RUNTIME.install()
        make_moto_dynamodb_atomic()
        self.emulator = OpenAIEmulator(
            job_duration_seconds=self.options.job_duration_seconds, port=self.options.emulator_port
        ).start()
        secrets = dict(LOCAL_SECRETS)
        if self.options.openai_api_key:
            secrets["OpenAIApiKeySecret"] = self.options.openai_api_key
        if self.options.labelbox_api_key:
            secrets["LabelboxApiKeySecret"] = self.options.labelbox_api_key
        self.resources = build_resources(
            boto3.Session(region_name=REGION),
            self.root,
            region=REGION,
            parameters={
                "PollIntervalSeconds": str(self.options.poll_interval_seconds),
                "OpenAIBaseUrl": "" if self.options.openai_api_key else self.emulator.base_url,
                "LabelSource": "labelbox" if self.options.labelbox_api_key else "s3",
                "LogLevel": "WARNING",
                "MinExamples": str(self.options.min_examples),
            },
            local_environment=LOCAL_ENVIRONMENT,
            local_secrets=secrets,
        )
        RUNTIME.managed_keys |= self.resources.environment_keys
        self._start_api()
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._uvicorn = None
        if self.emulator is not None:
            self.emulator.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        os.environ.clear()
        os.environ.update(self._saved_env)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_api(self) -> None:
        import importlib

        import uvicorn

        assert self.resources is not None
        name = self.resources.function_names["ApiFunction"]
        variables = self.resources.function_environment["ApiFunction"]
        with RUNTIME.function_environment(name, variables):  # module-level Powertools objects read it
            app = importlib.import_module("labeltune.handlers.api").app
        port = self.options.api_port or free_port()
        wrapped = _ApiWithFunctionEnvironment(app, name, variables)
        config = uvicorn.Config(wrapped, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self._uvicorn = uvicorn.Server(config)
        threading.Thread(target=self._uvicorn.run, name="labeltune-api", daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the local API did not start")
            time.sleep(0.02)
        self.api_url = f"http://127.0.0.1:{port}"

    # -- conveniences for the demo and tests ---------------------------------------------------------
    @property
    def webhook_secret(self) -> str:
        assert self.resources is not None
        return self.resources.secret_values["LabelboxWebhookSecret"]

    def client_session(self) -> boto3.Session:
        """A session outside any function: its calls are not attributed to a function."""
        return boto3.Session(region_name=REGION)

    def client(self, service: str) -> Any:
        return self.client_session().client(service)

    def upload_export(self, project_id: str, export_file: Path) -> str:
        """Stand in for Labelbox: put an export where the `s3` label source reads it."""
        assert self.resources is not None
        key = export_snapshot_key(project_id)
        self.client("s3").upload_file(str(export_file), self.resources.bucket_name, key)
        return f"s3://{self.resources.bucket_name}/{key}"

    def configure_project(self, project_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """PUT /projects/{id} through the local API, as an operator would."""
        request = urllib.request.Request(
            f"{self.api_url}/projects/{project_id}",
            data=json.dumps(changes or {}).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def wait_for_execution(self, run_id: str, timeout: float = 180) -> dict[str, Any]:
        assert self.resources is not None
        sfn = self.client("stepfunctions")
        arn = self.resources.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"
        deadline = time.monotonic() + timeout
        while True:
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {run_id} still running after {timeout}s")
            time.sleep(0.2)

    def states_visited(self, execution_arn: str) -> list[str]:
        sfn = self.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def executions(self) -> list[dict[str, Any]]:
        assert self.resources is not None
        sfn = self.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.resources.state_machine_arn)["executions"]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        from labeltune.adapters.dynamodb_runs import DynamoRunStore

        assert self.resources is not None
        resource = self.client_session().resource("dynamodb")
        return DynamoRunStore(self.resources.table_name, resource=resource).get_run(run_id)


def _post_json(url: str, payload: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
