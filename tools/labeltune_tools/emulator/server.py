"""The loopback HTTP server the real `openai` SDK talks to (standard library only, like moto's server mode).

`respx` cannot intercept the 3.x SDK (it uses httpx2), and patching the SDK would skip exactly
what we want to exercise: serialisation, retries, `retry-after`, pagination and error classes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from labeltune_tools.emulator.api import Api, Request, Response
from labeltune_tools.emulator.errors import ApiError, default_error_body
from labeltune_tools.emulator.faults import FaultPlan, Stall
from labeltune_tools.emulator.jobs import new_id
from labeltune_tools.emulator.state import EmulatorState
from labeltune_tools.emulator.webhooks import (
    DEFAULT_RETRY_DELAYS,
    DEFAULT_TIMEOUT_SECONDS,
    WebhookDelivery,
    WebhookSender,
)

log = logging.getLogger(__name__)
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
# The lifecycle thread re-checks at least this often: a safety net should the wall clock jump.
_LIFECYCLE_MAX_SLEEP = 1.0


@dataclass(frozen=True)
class Exchange:
    """One request/response pair as it went over the wire (for schema checks and assertions)."""

    method: str
    path: str
    query: str
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows when a burst of clients connect at once (a load test,
    # 8 SDK threads): the kernel drops the extra SYNs and those clients reconnect only after 1 s.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: OpenAIEmulator) -> None:
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
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "labeltune-openai-emulator/1.0"
    timeout = 60.0  # idle keep-alive connections are closed after this
    # Headers and body leave in one segment, without Nagle: no 40 ms delayed-ACK stall per response.
    wbufsize = 64 * 1024
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
        """The whole body (Content-Length or chunked), read before answering to keep the connection in sync."""
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
        started = time.monotonic()
        body = self._read_body()
        split = urlsplit(self.path)
        emulator = self.server.emulator
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        response = emulator.respond(request)
        if response is None:  # the emulator stopped while the request was stalled: drop the connection
            self.close_connection = True
            return
        # Recorded before sending, so a client that got its answer always finds the exchange recorded.
        emulator.record(
            Exchange(
                method=request.method,
                path=request.path,
                query=split.query,
                status=response.status,
                content_type=response.content_type,
                body=self._payload(response),
                headers=dict(response.headers),
            )
        )
        self._send(response, started)

    @staticmethod
    def _payload(response: Response) -> bytes:
        return response.body if isinstance(response.body, bytes) else json.dumps(response.body).encode()

    def _send(self, response: Response, started: float) -> None:
        payload = self._payload(response)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", new_id("req_", 32))
        self.send_header("openai-version", "2020-10-01")
        self.send_header("openai-processing-ms", str(int((time.monotonic() - started) * 1000)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class OpenAIEmulator:
    """An OpenAI API emulator on a loopback port, for the real SDK via `base_url` (see docs/emulator.md)."""

    def __init__(
        self,
        *,
        job_duration_seconds: float = 3.0,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        max_recorded_exchanges: int = 10_000,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        drop_webhooks: bool = False,
        duplicate_webhooks: bool = False,
        webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.faults = faults if faults is not None else FaultPlan()
        self.state = EmulatorState(job_duration_seconds=job_duration_seconds)
        self._api = Api(self.state)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle: threading.Thread | None = None
        self._exchanges: deque[Exchange] = deque(maxlen=max_recorded_exchanges)
        self._exchanges_lock = threading.Lock()
        self._stopping = threading.Event()  # wakes stalled requests on stop()
        self._lifecycle_wake = threading.Event()  # a job was created (or stop()): recompute the next transition
        self._webhooks = WebhookSender(
            url=webhook_url,
            secret=webhook_secret,
            drop=drop_webhooks,
            duplicate=duplicate_webhooks,
            retry_delays=webhook_retry_delays,
            timeout_seconds=webhook_timeout_seconds,
        )
        self.state.on_job_created = self._lifecycle_wake.set
        self.state.on_job_finished = self._webhooks.emit

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> OpenAIEmulator:
        """Bind the port and serve on a daemon thread; returns self for chaining."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._webhooks.start()
        self._lifecycle = threading.Thread(
            target=self._run_lifecycle, name=f"openai-emulator-lifecycle:{self.port}", daemon=True
        )
        self._lifecycle.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and free the port (idempotent)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        self._lifecycle_wake.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if self._lifecycle is not None:
            self._lifecycle.join(timeout=5)
        self._webhooks.stop()
        self._server = self._thread = self._lifecycle = None

    def __enter__(self) -> OpenAIEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as `OpenAI(base_url=...)`."""
        return f"http://{self.host}:{self.port}/v1"

    def _run_lifecycle(self) -> None:
        """Advance jobs as their phases end, so they finish (and send webhooks) though nobody polls them.

        Sleeps until the next transition is due, or until a job is created; nothing to do is a sleep,
        not a poll loop.
        """
        while not self._stopping.is_set():
            self._lifecycle_wake.clear()  # before advancing: a job created meanwhile wakes the wait below
            try:
                due = self.state.advance_due()
            except Exception:
                log.exception("emulator lifecycle tick failed")
                due = None
            self._lifecycle_wake.wait(_LIFECYCLE_MAX_SLEEP if due is None else min(due, _LIFECYCLE_MAX_SLEEP))

    # -- request handling ------------------------------------------------------------------------

    def respond(self, request: Request) -> Response | None:
        """Latency, auth, injected faults, then the endpoint (never raises).

        None only when `stop()` cut a stall short: the request is dropped unprocessed, as a server
        going away would drop it.
        """
        faults = self.faults
        if faults.latency_seconds > 0:
            time.sleep(faults.latency_seconds)
        if not _BEARER.fullmatch(request.headers.get("authorization", "").strip()):
            return Response(401, ApiError(401, _NO_KEY).body)
        fault = faults.decide(request.method, request.path)
        if isinstance(fault, Stall):
            if self._stopping.wait(fault.seconds):
                return None
            fault = None  # held long enough; now processed as if nothing happened
        if fault is not None and not fault.after_processing:
            return Response(fault.status, fault.body, headers=dict(fault.headers))
        try:
            response = self._api.handle(request)
        except Exception:
            log.exception("emulator endpoint crashed on %s %s", request.method, request.path)
            response = Response(500, default_error_body(500))
        if fault is not None:  # processed, but the client only ever sees the failure
            return Response(fault.status, fault.body, headers=dict(fault.headers))
        return response

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

    # -- webhooks --------------------------------------------------------------------------------
    # Configuration may change while running; an event uses the configuration of its emission.

    @property
    def webhook_url(self) -> str | None:
        """Where events are POSTed; None: events are recorded in `webhook_events` and sent nowhere."""
        return self._webhooks.url

    @webhook_url.setter
    def webhook_url(self, value: str | None) -> None:
        self._webhooks.url = value

    @property
    def webhook_secret(self) -> str:
        """The endpoint's `whsec_` secret (generated when none was given): give it to `OpenAI(webhook_secret=)`."""
        return self._webhooks.secret

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        self._webhooks.secret = value

    @property
    def drop_webhooks(self) -> bool:
        """Record events as dropped and never send them: the lost-event case a polling fallback must cover."""
        return self._webhooks.drop

    @drop_webhooks.setter
    def drop_webhooks(self, value: bool) -> None:
        self._webhooks.drop = value

    @property
    def duplicate_webhooks(self) -> bool:
        """Deliver every event twice (same webhook-id and event id), as OpenAI may: receivers must be idempotent."""
        return self._webhooks.duplicate

    @duplicate_webhooks.setter
    def duplicate_webhooks(self, value: bool) -> None:
        self._webhooks.duplicate = value

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        """Seconds before each retry of a delivery not answered 2xx; attempts = 1 + len(delays)."""
        return self._webhooks.retry_delays

    @webhook_retry_delays.setter
    def webhook_retry_delays(self, value: Sequence[float]) -> None:
        self._webhooks.retry_delays = value

    @property
    def webhook_timeout_seconds(self) -> float:
        """How long one delivery attempt waits for the receiver before it counts as failed."""
        return self._webhooks.timeout_seconds

    @webhook_timeout_seconds.setter
    def webhook_timeout_seconds(self, value: float) -> None:
        self._webhooks.timeout_seconds = value

    @property
    def webhook_events(self) -> list[dict[str, Any]]:
        """Every event emitted, once per terminal transition, whether sent, dropped or with no endpoint."""
        return self._webhooks.events

    @property
    def sent_webhook_events(self) -> list[dict[str, Any]]:
        """Events the receiver acknowledged (2xx), in that order; twice each with `duplicate_webhooks`."""
        return self._webhooks.sent

    @property
    def dropped_webhook_events(self) -> list[dict[str, Any]]:
        """Events lost on purpose by `drop_webhooks`."""
        return self._webhooks.dropped

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every delivery attempt (event, attempt number, status or error, time), in the order they ended."""
        return self._webhooks.deliveries

    @property
    def webhooks_in_flight(self) -> int:
        """Deliveries still being attempted or waiting to retry."""
        return self._webhooks.in_flight

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `count` events were acknowledged; returns `sent_webhook_events`, TimeoutError if not."""
        return self._webhooks.wait_for_sent(count, timeout)

    def clear_webhooks(self) -> None:
        """Forget recorded webhook events and attempts (deliveries in flight go on)."""
        self._webhooks.clear()

    # -- test helpers ----------------------------------------------------------------------------

    def force_job_failure(self, job_id: str, code: str, message: str, *, param: str | None = None) -> dict[str, Any]:
        """Make a running job fail now with this error (e.g. to test the pipeline's failure branch)."""
        return self.state.fail_job(job_id, code=code, message=message, param=param)

    def files(self, *, purpose: str | None = None) -> list[dict[str, Any]]:
        """The files held now, oldest first (`OpenAIFile` dicts): assert a run left none behind."""
        return self.state.files(purpose=purpose)
