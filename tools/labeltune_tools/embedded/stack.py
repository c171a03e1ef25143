"""The embedded local stack: moto (AWS), the OpenAI and Bedrock emulators, and the API under uvicorn, in one
process.

Nothing here talks to a real service. moto runs the real state machine definition and invokes the
real handlers in process; the API is the same Powertools app the Lambda uses; OpenAI and Amazon Bedrock
are our emulators (boto3 reaches the Bedrock one through AWS_ENDPOINT_URL_BEDROCK and
AWS_ENDPOINT_URL_BEDROCK_RUNTIME); Labelbox is replaced by an export file uploaded to the bucket (the `s3`
label source).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from labeltune.adapters.s3_export import export_snapshot_key
from labeltune_tools.bedrock_emulator import BedrockEmulator
from labeltune_tools.embedded.execution_events import ExecutionEventPump
from labeltune_tools.embedded.lambda_runtime import FUNCTION_ACCESS_KEY, RUNTIME, tooling_session
from labeltune_tools.embedded.moto_dynamodb import make_moto_dynamodb_atomic
from labeltune_tools.embedded.resources import LocalResources, build_resources
from labeltune_tools.embedded.run_stream import StreamPump
from labeltune_tools.emulator import OpenAIEmulator, generate_webhook_secret

REGION = "us-east-1"
log = logging.getLogger(__name__)
# Where the emulator sends OpenAI's webhooks: template.yaml's route of OpenAIJobEventsFunction (a test checks).
OPENAI_WEBHOOK_PATH = "/webhooks/openai"
LOCAL_SECRETS = {
    "OpenAIApiKeySecret": "sk-local-emulator-not-a-real-key",
    "LabelboxApiKeySecret": "local-export-file-not-a-real-key",
}
# Local-only settings: no X-Ray daemon and no CloudWatch here.
LOCAL_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
EMULATOR_CATALOG = Path(__file__).with_name("emulator_models.json")
EMULATED = {
    "AWS (S3, DynamoDB, Step Functions, Lambda, Secrets Manager, IAM)": "moto, in process",
    "Lambda runtime": "real handlers imported and called in process",
    "API Gateway HTTP API": "uvicorn serving the same Powertools app",
    "OpenAI API": "labeltune's emulator (deterministic stand-in models, not real model quality)",
    "Amazon Bedrock (Nova customization, deployments, Converse)": "labeltune's Bedrock emulator (stand-in models)",
    "Labelbox": "an export file uploaded to the bucket instead of a Labelbox export",
}


ROOT_ENV = "LABELTUNE_ROOT"


def repo_root() -> Path:
    """The labeltune checkout the stack is built from: $LABELTUNE_ROOT, else the nearest directory holding
    template.yaml above this package (an editable install) or above the working directory."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for directory in (start, *start.parents):
            if (directory / "template.yaml").is_file() and (directory / "infra").is_dir():
                return directory
    raise StackError(f"no labeltune checkout (template.yaml) here: run from one, or set {ROOT_ENV}")


HOST = "127.0.0.1"
# How long each server may take to come up before the stack gives up (instead of waiting forever).
START_TIMEOUT_SECONDS = 10.0
# The StackOptions fields naming ports, in the order the servers start.
PORT_SETTINGS = ("moto_port", "emulator_port", "bedrock_port", "api_port")
# The emulators bind their own ports: claim_ports only checks those are free.
SELF_BINDING = ("emulator_port", "bedrock_port")


def free_port() -> int:
    """A port free right now (another program may take it before it is used: prefer binding port 0)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class StackError(RuntimeError):
    """The local stack could not start for a reason the operator can act on; the message is one line."""


class PortUnavailable(StackError):
    """A port the options ask for cannot be listened on. `setting` is the StackOptions field that asked."""

    def __init__(self, setting: str, port: int, reason: str, *, also: str | None = None) -> None:
        self.setting, self.port, self.reason, self.also = setting, port, reason, also
        super().__init__(self.describe())

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """One line; `names` maps settings to what the operator typed (moto_port -> --moto-port)."""
        names = names or {}
        name = names.get(self.setting, self.setting)
        if self.also is not None:
            also = names.get(self.also, self.also)
            return f"port {self.port} is given to both {also} and {name}; choose another with {name}"
        return f"port {self.port} ({name}) {self.reason}; choose another with {name}"


class PortInUse(PortUnavailable):
    """Another program (or another of the stack's own servers) is listening on the port."""

    def __init__(self, setting: str, port: int, *, also: str | None = None) -> None:
        super().__init__(setting, port, "is already in use", also=also)


def _port_error(setting: str, port: int, error: OSError | OverflowError) -> PortUnavailable:
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return PortInUse(setting, port)
    if isinstance(error, OverflowError):
        return PortUnavailable(setting, port, "is not a port number (0-65535)")
    return PortUnavailable(setting, port, f"cannot be listened on ({error.strerror or error})")


def listen_socket(setting: str, port: int) -> socket.socket:
    """A socket listening on HOST:port (0: any free port), or PortUnavailable naming the setting.

    SO_REUSEADDR as the servers themselves set it: a port left in TIME_WAIT is free, one with a listener is not.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except (OSError, OverflowError) as error:
        sock.close()
        raise _port_error(setting, port, error) from error
    return sock


def claim_ports(options: StackOptions) -> dict[str, socket.socket]:
    """Listen on every port the options name before anything starts, so a taken port fails at once.

    Returns a listening socket per setting for moto and the API (port 0 binds any free port): they serve
    on these, so no other program can take the port in between. The emulator binds its own port, so its
    check socket is closed again.
    """
    sockets: dict[str, socket.socket] = {}
    claimed: dict[int, str] = {}
    try:
        for setting in PORT_SETTINGS:
            port = int(getattr(options, setting))
            if port and port in claimed:
                raise PortInUse(setting, port, also=claimed[port])
            if setting in SELF_BINDING and not port:
                continue
            sockets[setting] = listen_socket(setting, port)
            claimed[port] = setting
        for setting in SELF_BINDING:
            check = sockets.pop(setting, None)
            if check is not None:
                check.close()
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


class _MotoServer:
    """moto's server (as ThreadedMotoServer runs it) on a socket bound beforehand, serving on a daemon thread.

    moto 5.2.5's ThreadedMotoServer binds inside its thread: when the port is taken werkzeug prints to stderr
    and ends that thread, and start() then waits forever for a ready event that never comes.
    """

    def __init__(self, sock: socket.socket) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        host, port = sock.getsockname()[:2]
        app = DomainDispatcherApplication(create_backend_app)
        # fd: werkzeug serves a duplicate of the listening socket instead of binding (and exiting) itself.
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno())
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="labeltune-moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class StackOptions:
    # How long a run waits for the provider's completion event before it looks at the job itself (the
    # template's FallbackCheckSeconds, whose minimum of 150 bounds a deployed execution's history; emulated
    # jobs take seconds, so the local default is short).
    fallback_check_seconds: int = 30
    # Lose every provider event (OpenAI webhooks, Bedrock EventBridge events): runs finish by the fallback check.
    drop_provider_events: bool = False
    job_duration_seconds: float = 3.0
    api_port: int = 0
    moto_port: int = 0
    emulator_port: int = 0
    bedrock_port: int = 0
    # Emulated Bedrock: how long a customization job trains and a custom model deployment takes to be Active.
    bedrock_job_seconds: float = 3.0
    bedrock_deployment_seconds: float = 1.0
    # The provider of a project configured without one (the template's DefaultProvider).
    default_provider: str = "bedrock"
    # Real services instead of the stand-ins (keys go into the local Secrets Manager, never the environment
    # of the functions). A real OpenAI key creates real, paid fine-tuning jobs.
    openai_api_key: str | None = None
    labelbox_api_key: str | None = None
    # Extra environment variables for every function, over the template's and the local ones (e.g.
    # {"PROVIDER_TIMEOUT_SECONDS": "2", "JOB_CREATE_SETTLE_SECONDS": "20"} to scale timeouts down in a test).
    function_environment: dict[str, str] = field(default_factory=dict)
    # API Gateway's IAM authorisation on the template's AWS_IAM routes (sigv4.py, the local_auth credentials): when
    # True an unsigned request is refused with 403 as in a deployed stack (`labeltune local up`); when False only a
    # request that carries a signature is verified (a bad one is 403), so tests and the demo may call unsigned.
    require_signed: bool = False

    def emulated(self) -> dict[str, str]:
        """What this stack emulates, for printing next to any result."""
        services = dict(EMULATED)
        if self.openai_api_key:
            services["OpenAI API"] = "REAL (api.openai.com, paid)"
        if self.labelbox_api_key:
            services["Labelbox"] = "REAL (Labelbox export API)"
        return services


@dataclass(frozen=True)
class _FunctionApp:
    """A function's routes as an ASGI app (its handler module's `local_app()`), and the function's environment."""

    app: Any
    name: str
    variables: dict[str, str]


def _path_pattern(path: str) -> re.Pattern[str]:
    """An HttpApi route path (`/projects/{project_id}`) as a regular expression for request paths."""
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


class _LocalHttpApi:
    """ASGI: API Gateway's part. Each request goes to the function whose HttpApi route it matches (the ApiFunction
    for every other path, which answers 404 in the API's shape) and runs with that function's environment, as in
    its own Lambda."""

    def __init__(
        self,
        routes: list[tuple[str, re.Pattern[str], _FunctionApp]],
        default: _FunctionApp,
        iam_routes: list[tuple[str, re.Pattern[str]]] | None = None,
        require_signed: bool = False,
    ) -> None:
        self.routes, self.default = routes, default
        self.iam_routes, self.require_signed = iam_routes or [], require_signed

    def _refusal(self, scope: Any, body: bytes) -> dict[str, str] | None:
        """API Gateway's IAM authorisation: the 403 body for a route declared AWS_IAM whose request is unsigned
        (when signatures are required) or badly signed; None when the request may pass."""
        from datetime import UTC, datetime

        from labeltune_tools.embedded import sigv4
        from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY

        method = scope["method"].upper()  # `curl -X get` reaches the route Powertools upper-cases it to
        if not any(m in (method, "ANY") and p.match(scope["path"]) for m, p in self.iam_routes):
            return None
        request = sigv4.asgi_request(scope, body)
        if not self.require_signed and not request.header_values("authorization"):
            return None
        verdict = sigv4.verify(
            request, {LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY}.get, datetime.now(UTC), region=LOCAL_REGION
        )
        return None if verdict.ok else verdict.body()

    def _target(self, method: str, path: str) -> _FunctionApp:
        for route_method, pattern, target in self.routes:
            if route_method in (method, "ANY") and pattern.match(path):
                return target
        return self.default

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.default.app(scope, receive, send)
            return
        body, receive = await _buffered(receive)
        if not _is_utf8(body, scope):
            # Powertools' ASGI adapter decodes headers and body as UTF-8 and would fail with a 500. API Gateway
            # hands such a body to the function base64-encoded, and the function refuses it (400/401).
            await _send_json(send, 400, {"message": "the request is not UTF-8 text"})
            return
        refusal = self._refusal(scope, body)
        if refusal is not None:
            await _send_json(send, 403, refusal)
            return
        target = self._target(scope["method"], scope["path"])
        await asyncio.to_thread(RUNTIME.enter_function, target.name, target.variables)
        try:
            await target.app(scope, receive, send)
        finally:
            RUNTIME.exit_function()


async def _buffered(receive: Any) -> tuple[bytes, Any]:
    """The whole request body, and a `receive` that replays it."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _is_utf8(body: bytes, scope: Any) -> bool:
    try:
        body.decode("utf-8")
        for _, value in scope.get("headers", []):
            value.decode("utf-8")
        scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class EmbeddedStack:
    def __init__(self, root: Path | None = None, options: StackOptions | None = None) -> None:
        self.root = root or repo_root()
        self.options = options or StackOptions()
        self.resources: LocalResources | None = None
        self.emulator: OpenAIEmulator | None = None
        self.bedrock: BedrockEmulator | None = None
        self.moto_url = ""
        self.api_url = ""
        self._moto: Any = None
        self._uvicorn: Any = None
        self._execution_events: ExecutionEventPump | None = None
        self._saved_env: dict[str, str] = {}
        self.delivered_events: list[tuple[str, str, str, bool]] = []  # (event id, rule, function, failed)
        self.run_stream: StreamPump | None = None  # the runs table's stream to RunEventsFunction (run_stream.py)

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> EmbeddedStack:
        """Start moto, the emulator and the API; a taken port or a server that never comes up raises
        StackError, after stopping what had started and restoring os.environ."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log is noise here

        sockets = claim_ports(self.options)  # before anything starts: nothing to undo yet
        self._saved_env = dict(os.environ)
        try:
            self._start(sockets)
        except BaseException:
            self.stop()
            raise
        finally:
            for sock in sockets.values():  # the servers serve duplicates of these (or the start failed)
                sock.close()
        return self

    def _start(self, sockets: dict[str, socket.socket]) -> None:
        moto_socket = sockets["moto_port"]
        moto_port = int(moto_socket.getsockname()[1])
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": FUNCTION_ACCESS_KEY,  # what a function's calls are recognised by
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": f"http://{HOST}:{moto_port}",
                "MOTO_PORT": str(moto_port),
            }
        )
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
        self._moto = _MotoServer(moto_socket)
        self.moto_url = f"http://{HOST}:{moto_port}"
        # Also the readiness check: moto answers HTTP within the timeout, or the start fails.
        _post_json(f"{self.moto_url}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}}, "moto")
        RUNTIME.install()
        make_moto_dynamodb_atomic()
        webhook_secret = generate_webhook_secret()
        api_port = int(sockets["api_port"].getsockname()[1])
        self.emulator = self._start_emulator(f"http://{HOST}:{api_port}{OPENAI_WEBHOOK_PATH}", webhook_secret)
        self.bedrock = self._start_bedrock()
        secrets = {**LOCAL_SECRETS, "OpenAIWebhookSecret": webhook_secret}
        if self.options.openai_api_key:
            secrets["OpenAIApiKeySecret"] = self.options.openai_api_key
        if self.options.labelbox_api_key:
            secrets["LabelboxApiKeySecret"] = self.options.labelbox_api_key
        self.resources = build_resources(
            tooling_session(REGION),
            self.root,
            region=REGION,
            parameters={
                "OpenAIBaseUrl": "" if self.options.openai_api_key else self.emulator.base_url,
                "LabelSource": "labelbox" if self.options.labelbox_api_key else "s3",
                "LogLevel": "WARNING",
                "DefaultProvider": self.options.default_provider,
            },
            local_environment=self._local_environment(),
            local_secrets=secrets,
        )
        RUNTIME.managed_keys |= self.resources.environment_keys
        self.run_stream = StreamPump(tooling_session(REGION), self.resources).start()
        self._start_api(sockets["api_port"])
        # Step Functions' execution status events, which moto does not emit (execution_events.py).
        sfn, arn = self.client("stepfunctions"), self.resources.state_machine_arn
        self._execution_events = ExecutionEventPump(sfn, arn, self.deliver_event, REGION).start()

    def _local_environment(self) -> dict[str, str]:
        """LOCAL_ENVIRONMENT, and the emulator's model catalog unless OpenAI is real (the emulator is not
        OpenAI: it never closes for training, so the local stack does not refuse what it would train);
        then `options.function_environment`, which wins over both and over the template's variables."""
        # Set in the functions' environment: below the template's FallbackCheckSeconds minimum.
        environment = {**LOCAL_ENVIRONMENT, "FALLBACK_CHECK_SECONDS": str(self.options.fallback_check_seconds)}
        if self.bedrock is not None:  # boto3's per-service endpoints: Bedrock goes to the emulator, the rest to moto
            environment["AWS_ENDPOINT_URL_BEDROCK"] = self.bedrock.endpoint_url
            environment["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = self.bedrock.endpoint_url
        if not self.options.openai_api_key:
            # The emulators list the models they stand in for with OpenAI's and Bedrock's real dates (OpenAI's
            # close in 2027); the local stack trains on them at any date, from its own catalog file alone.
            environment["MODEL_CATALOG_FILE"] = str(EMULATOR_CATALOG)
            environment["LIVE_MODEL_CATALOG"] = "false"
        return {**environment, **{key: str(value) for key, value in self.options.function_environment.items()}}

    def _start_emulator(self, webhook_url: str, webhook_secret: str) -> OpenAIEmulator:
        """The emulator binds its own port (checked free by claim_ports); a bind lost since is PortUnavailable.
        It sends its fine-tuning webhooks to the local API's /webhooks/openai, signed with the stack's secret."""
        port = self.options.emulator_port
        emulator = OpenAIEmulator(
            job_duration_seconds=self.options.job_duration_seconds,
            host=HOST,
            port=port,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            drop_webhooks=self.options.drop_provider_events,
        )
        try:
            emulator.start()  # binds and listens before it returns
        except (OSError, OverflowError) as error:
            raise _port_error("emulator_port", port, error) from error
        try:
            _wait_accepting("the OpenAI emulator", HOST, emulator.port)
        except BaseException:
            emulator.stop()
            raise
        return emulator

    def _start_bedrock(self) -> BedrockEmulator:
        """The Bedrock emulator reads training data from moto's S3 over HTTP, on its own threads."""
        from botocore.config import Config

        port = self.options.bedrock_port
        s3 = tooling_session(REGION).client(
            "s3", endpoint_url=self.moto_url, config=Config(s3={"addressing_style": "path"})
        )
        bedrock = BedrockEmulator(
            s3_client=s3,
            job_duration_seconds=self.options.bedrock_job_seconds,
            deployment_duration_seconds=self.options.bedrock_deployment_seconds,
            region=REGION,
            host=HOST,
            port=port,
            on_event=self.deliver_event,
            drop_events=self.options.drop_provider_events,
        )
        try:
            bedrock.start()
        except (OSError, OverflowError) as error:
            raise _port_error("bedrock_port", port, error) from error
        return bedrock

    def drop_provider_events(self, drop: bool = True) -> None:
        """Lose (or stop losing) every provider event from now on: OpenAI's webhooks and Bedrock's job events."""
        if self.emulator is not None:
            self.emulator.drop_webhooks = drop
        if self.bedrock is not None:
            self.bedrock.drop_events = drop

    def deliver_event(self, event: dict[str, Any]) -> None:
        """EventBridge's part, locally: the event goes to the Lambda targets of every template rule whose pattern
        matches it (moto's matcher), invoked through moto like any other invocation. No retries, no dead-letter
        queue: a target that fails is logged, and the run's fallback check is what remains."""
        from moto.events.models import EventPattern

        if self.resources is None:
            return
        for rule in self.resources.event_rules:
            if not EventPattern.load(json.dumps(rule.pattern)).matches_event(event):  # type: ignore[arg-type]
                continue
            for function in rule.function_names:
                answer = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
                failed = "FunctionError" in answer
                self.delivered_events.append((event.get("id", ""), rule.logical_id, function, failed))
                if failed:
                    log.warning("%s failed on event %s from rule %s", function, event.get("id"), rule.logical_id)

    def stop(self) -> None:
        if self.run_stream is not None:
            self.run_stream.stop()
            self.run_stream = None
        if self._execution_events is not None:
            self._execution_events.stop()
            self._execution_events = None
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._uvicorn = None
        if self.bedrock is not None:
            self.bedrock.stop()
            self.bedrock = None
        if self.emulator is not None:
            self.emulator.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        os.environ.clear()
        os.environ.update(self._saved_env)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_api(self, sock: socket.socket) -> None:
        """uvicorn on the claimed socket (it never binds, so it never logs a bind error and exits its thread);
        waits until it serves, or raises StackError when its thread dies or the timeout passes."""
        import importlib

        import uvicorn

        assert self.resources is not None
        resources = self.resources
        handlers = _function_handlers(resources.template)
        apps: dict[str, _FunctionApp] = {}
        for logical_id in {"ApiFunction", *resources.route_functions.values()}:
            name = resources.function_names[logical_id]
            # Lambda sets the function's name; the functions' services are cached per name (wiring.services).
            variables = {"AWS_LAMBDA_FUNCTION_NAME": name, **resources.function_environment[logical_id]}
            module = handlers[logical_id].rpartition(".")[0]
            with RUNTIME.function_environment(name, variables):  # module-level Powertools objects read it
                app = importlib.import_module(module).local_app()  # the routes on the ASGI resolver
            apps[logical_id] = _FunctionApp(app, name, variables)
        routes = [
            (method, _path_pattern(path), apps[logical_id])
            for (method, path), logical_id in resources.route_functions.items()
            if logical_id != "ApiFunction"
        ]
        port = int(sock.getsockname()[1])
        iam_routes = [(method, _path_pattern(path)) for method, path, auth in resources.routes if auth == "AWS_IAM"]
        wrapped = _LocalHttpApi(routes, apps["ApiFunction"], iam_routes, self.options.require_signed)
        config = uvicorn.Config(wrapped, host=HOST, port=port, log_level="warning", lifespan="off")
        self._uvicorn = uvicorn.Server(config)
        served = sock.dup()  # uvicorn's to close; start() closes the claimed one
        thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [served]}, name="labeltune-api", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._uvicorn.started:
            problem = None
            if not thread.is_alive():
                problem = f"the local API (uvicorn) stopped while starting on port {port}"
            elif time.monotonic() > deadline:
                problem = f"the local API (uvicorn) did not start on port {port} within {START_TIMEOUT_SECONDS:g} s"
            if problem is not None:
                self._uvicorn.should_exit = True
                served.close()
                raise StackError(problem)
            time.sleep(0.02)
        self.api_url = f"http://{HOST}:{port}"

    # -- conveniences for the demo and tests ---------------------------------------------------------
    def webhook_secret(self, project_id: str) -> str:
        """The project's own webhook secret, created as `labeltune labelbox connect` creates it."""
        from labeltune_tools.labelbox_setup import ensure_project_secret, project_secret_name

        assert self.resources is not None
        prefix = self.resources.function_environment["ApiFunction"]["WEBHOOK_SECRET_PREFIX"]
        name = project_secret_name(prefix, project_id)
        return ensure_project_secret(self.client("secretsmanager"), name).secret

    def client_session(self) -> boto3.Session:
        """A session outside any function (the demo's, the tests'): its calls are signed with the tooling
        access key, so the IAM check never attributes them to a function that happens to be running."""
        return tooling_session(REGION)

    def client(self, service: str) -> Any:
        return self.client_session().client(service)

    def upload_export(self, project_id: str, export_file: Path) -> str:
        """Stand in for Labelbox: put an export where the `s3` label source reads it."""
        assert self.resources is not None
        key = export_snapshot_key(project_id)
        self.client("s3").upload_file(str(export_file), self.resources.bucket_name, key)
        return f"s3://{self.resources.bucket_name}/{key}"

    def configure_project(self, project_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """PUT /projects/{id} through the local API, as an operator would, and give the project its webhook
        secret (what `labeltune labelbox connect` does beside registering the webhook at Labelbox)."""
        self.webhook_secret(project_id)
        url, data = f"{self.api_url}/projects/{project_id}", json.dumps(changes or {}).encode()
        headers = {"Content-Type": "application/json"}
        if self.options.require_signed:  # signed as an operator signs (the local_auth credentials)
            from labeltune_tools.api_client import from_options

            headers = from_options(local=True, api_url=self.api_url).signed_headers("PUT", url, data, headers)
        request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
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

    def deliver_execution_events(self) -> int:
        """Hand every execution that ended badly to the template's rules now, rather than at the pump's next tick
        (a test that must know no earlier run's cleanup is still to come); how many were delivered."""
        return self._execution_events.pump_once() if self._execution_events is not None else 0

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


def _function_handlers(template: dict[str, Any]) -> dict[str, str]:
    """Each Lambda function's handler by logical id, from the translated template."""
    return {
        logical_id: resource["Properties"]["Handler"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _post_json(url: str, payload: dict[str, Any], server: str, timeout: float = 5.0) -> None:
    """POST to one of the stack's own servers: an answer within `timeout`, or StackError saying which server."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise StackError(f"{server} answered {url} with HTTP {error.code}") from error
    except (OSError, TimeoutError) as error:
        reason = getattr(error, "reason", None) or error
        raise StackError(f"{server} did not answer {url} within {timeout:g} s ({reason})") from error


def _wait_accepting(server: str, host: str, port: int, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Wait until host:port accepts a connection, or raise StackError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                message = f"{server} did not accept connections on port {port} within {timeout:g} s ({error})"
                raise StackError(message) from error
            time.sleep(0.02)
