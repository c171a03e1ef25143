"""The loopback HTTP server boto3's `bedrock` and `bedrock-runtime` clients reach through `endpoint_url`.

One server answers both services: their operations' paths do not collide (tests/bedrock_emulator checks
every pair in botocore's models), so a request's method and path name its operation. Standard library
`http.server`, threaded, like the OpenAI emulator and moto's server mode. SigV4 is not verified: any
credentials, or none, are accepted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from labeltune_tools.bedrock_emulator.api import BedrockApi, Response, error_response
from labeltune_tools.bedrock_emulator.errors import UNKNOWN_OPERATION, BedrockError
from labeltune_tools.bedrock_emulator.events import TERMINAL_STATUSES, EventBus, EventCallback
from labeltune_tools.bedrock_emulator.faults import BedrockFaultPlan, Stall
from labeltune_tools.bedrock_emulator.service_model import match_route
from labeltune_tools.bedrock_emulator.state import BedrockState, DataUnavailable
from labeltune_tools.emulator.training import Example

log = logging.getLogger(__name__)
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Exchange:
    """One request/response pair as it went over the wire (for service-model checks and assertions)."""

    service: str | None  # None: no operation has this method and path
    operation: str | None
    method: str
    path: str
    query: str
    request_body: bytes
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def request_json(self) -> Any:
        return json.loads(self.request_body) if self.request_body.strip() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: BedrockEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        """Drop open keep-alive connections so clients see the server go away."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3's pool in botocore expects
    server_version = "labeltune-bedrock-emulator/1.0"
    timeout = 60.0
    wbufsize = 64 * 1024  # headers and body in one segment
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle(self) -> None:
        # A client that timed out (latency, a stall) has closed its end: that is the test, not an error.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        emulator = self.server.emulator
        outcome = emulator.respond(self.command, split.path, split.query, body)
        if outcome is None:  # stopped during a stall: drop the connection, as a server going away would
            self.close_connection = True
            return
        route_service, route_operation, response = outcome
        payload = json.dumps(response.body).encode()
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4()), **response.headers}
        emulator.record(
            Exchange(
                service=route_service,
                operation=route_operation,
                method=self.command,
                path=split.path,
                query=split.query,
                request_body=body,
                status=response.status,
                headers=headers,
                body=payload,
            )
        )
        self.send_response(response.status)
        headers["Content-Length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class BedrockEmulator:
    """Amazon Bedrock (customization jobs, deployments, Converse) on a loopback port; see docs/bedrock_emulator.md."""

    def __init__(
        self,
        *,
        s3_client: Any = None,
        on_event: EventCallback | None = None,
        drop_events: bool = False,
        event_statuses: Iterable[str] = TERMINAL_STATUSES,
        job_duration_seconds: float = 3.0,
        deployment_duration_seconds: float = 1.0,
        stop_duration_seconds: float = 0.5,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: BedrockFaultPlan | None = None,
        max_recorded_exchanges: int = 10_000,
        tick_seconds: float = 0.02,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.region = region
        self.account_id = account_id
        self.s3_client = s3_client
        self.faults = faults if faults is not None else BedrockFaultPlan()
        self.tick_seconds = tick_seconds
        self._requested_port = port
        self._bus = EventBus(on_event, drop=drop_events)
        self.state = BedrockState(
            region=region,
            account_id=account_id,
            job_duration_seconds=job_duration_seconds,
            deployment_duration_seconds=deployment_duration_seconds,
            stop_duration_seconds=stop_duration_seconds,
            read_data=self._read_s3,
            publish=self._bus.publish,
            event_statuses=frozenset(event_statuses),
            clock=clock,
        )
        self._api = BedrockApi(self.state)
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._exchanges: deque[Exchange] = deque(maxlen=max_recorded_exchanges)
        self._exchanges_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> BedrockEmulator:
        """Bind the port, serve on a daemon thread, tick job timelines and deliver events; returns self."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"bedrock-emulator:{self.port}",
            daemon=True,
        )
        ticker = threading.Thread(target=self._tick_forever, name="bedrock-emulator-ticker", daemon=True)
        self._threads = [serve, ticker]
        self._bus.start()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and ticking, close connections, free the port (idempotent)."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._bus.stop()
        self._server, self._threads = None, []

    def __enter__(self) -> BedrockEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        while not self._stopping.wait(self.tick_seconds):
            try:
                self.state.tick()
            except Exception:
                log.exception("the Bedrock emulator's ticker failed")

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """What to pass as `boto3.client("bedrock" or "bedrock-runtime", endpoint_url=...)`."""
        return f"http://{self.host}:{self.port}"

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` pointed here, with the emulator's region and dummy credentials."""
        import boto3

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        options.update(kwargs)
        return boto3.client(service, **options)

    # -- request handling ------------------------------------------------------------------------------

    def respond(
        self, method: str, path: str, query: str, body: bytes
    ) -> tuple[str | None, str | None, Response] | None:
        """Latency, routing, injected faults, then the operation (never raises).

        Returns (service, operation, response); None when `stop()` cut a stall short.
        """
        faults = self.faults
        if faults.latency_seconds > 0:
            time.sleep(faults.latency_seconds)
        matched = match_route(method, path)
        if matched is None:
            error = BedrockError(UNKNOWN_OPERATION, f"No Bedrock operation is {method} {path}.")
            return None, None, error_response(error)
        route, labels = matched
        fault = faults.decide(route.service, route.operation)
        if isinstance(fault, Stall):
            if self._stopping.wait(fault.seconds):
                return None
            fault = None
        if fault is not None and not fault.after_processing:
            return route.service, route.operation, error_response(fault.error)
        try:
            response = self._api.handle(route, labels, parse_qsl(query, keep_blank_values=True), body)
        except BedrockError as error:
            response = error_response(error)
        except Exception:
            log.exception("Bedrock emulator operation %s crashed", route.operation)
            response = error_response(BedrockError("InternalServerException", "Internal server error."))
        if fault is not None:
            return route.service, route.operation, error_response(fault.error)
        return route.service, route.operation, response

    def record(self, exchange: Exchange) -> None:
        with self._exchanges_lock:
            self._exchanges.append(exchange)

    @property
    def exchanges(self) -> list[Exchange]:
        """Recorded request/response pairs, oldest first (bounded by `max_recorded_exchanges`)."""
        with self._exchanges_lock:
            return list(self._exchanges)

    def clear_exchanges(self) -> None:
        with self._exchanges_lock:
            self._exchanges.clear()

    def _read_s3(self, uri: str) -> bytes:
        """Training or validation data from S3, through the client the emulator was given."""
        if self.s3_client is None:
            raise BedrockError(
                "ValidationException",
                "The Bedrock emulator has no S3 client (s3_client=...), so it cannot read training data.",
            )
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not key or key.endswith("/"):
            raise DataUnavailable(f"The data location {uri} must name a file (an S3 object), not a prefix.")
        from botocore.exceptions import ClientError

        try:
            return bytes(self.s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Error")
            raise DataUnavailable(f"Unable to read the data at {uri}: {code}.") from None

    # -- events ----------------------------------------------------------------------------------------

    @property
    def on_event(self) -> EventCallback | None:
        return self._bus.callback

    @on_event.setter
    def on_event(self, callback: EventCallback | None) -> None:
        self._bus.callback = callback

    @property
    def drop_events(self) -> bool:
        """True: state change events are recorded in `dropped_events` and never delivered."""
        return self._bus.drop

    @drop_events.setter
    def drop_events(self, drop: bool) -> None:
        self._bus.drop = drop

    @property
    def events(self) -> list[dict[str, Any]]:
        """Events delivered so far (handed to `on_event`, if one is set), in order."""
        return self._bus.delivered()

    @property
    def dropped_events(self) -> list[dict[str, Any]]:
        return self._bus.dropped()

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `count` events were delivered (delivery is asynchronous); returns the delivered ones."""
        return self._bus.wait(count, timeout)

    # -- test helpers ----------------------------------------------------------------------------------

    def complete_job(self, job: str) -> dict[str, Any]:
        """Finish a running job (ARN or name) now, as Completed; returns it as GetModelCustomizationJob would."""
        return self.state.complete_job(job)

    def fail_job(self, job: str, message: str = "Internal error (injected by the emulator).") -> dict[str, Any]:
        """Fail a running job now with this failureMessage."""
        return self.state.fail_job(job, message)

    def activate_deployment(self, deployment: str) -> dict[str, Any]:
        """Make a Creating deployment Active now."""
        return self.state.activate_deployment(deployment)

    def fail_deployment(
        self, deployment: str, message: str = "Deployment failed (injected by the emulator)."
    ) -> dict[str, Any]:
        """Put a deployment in Failed now, with this failureMessage."""
        return self.state.fail_deployment(deployment, message)

    def set_model_lifecycle(
        self, model_id: str, status: str, *, legacy_time: float | None = None, end_of_life_time: float | None = None
    ) -> None:
        """What ListFoundationModels says of a model id's lifecycle from now on (`ACTIVE` or `LEGACY`, times as
        epoch seconds); a LEGACY customizable model also refuses new customization jobs, as Bedrock's do."""
        self.state.set_lifecycle(model_id, status, legacy_time, end_of_life_time)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job held, oldest first, as GetModelCustomizationJob shows it."""
        return self.state.jobs()

    def custom_models(self) -> list[dict[str, Any]]:
        return self.state.custom_models()

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment held (deleted ones are gone), as GetCustomModelDeployment shows it."""
        return self.state.deployments()

    def training_examples(self, identifier: str) -> list[Example]:
        """The examples the stand-in tuned model of a job, custom model or deployment answers from."""
        return self.state.training_examples(identifier)
