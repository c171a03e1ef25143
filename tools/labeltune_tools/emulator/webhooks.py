"""OpenAI's fine-tuning webhooks, sent the way api.openai.com sends them (Standard Webhooks v1 signatures).

The pipeline waits for `fine_tuning.job.succeeded|failed|cancelled` events instead of polling, so the
local stack and tests need an OpenAI that calls back, and that misbehaves the way real delivery can:

- the payload carries only the job id (the receiver must retrieve the job for anything else);
- `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
  `{id}.{timestamp}.{body}`, keyed with the base64 part of a `whsec_` secret) are exactly what
  `client.webhooks.unwrap` verifies;
- an endpoint that does not answer 2xx is retried with backoff (OpenAI keeps trying for up to 72 hours;
  the emulator makes a few attempts within a second by default), keeping the same `webhook-id` and
  body and signing each attempt with its own timestamp, as Standard Webhooks senders do;
- an event may arrive twice (`duplicate`) or never (`drop`), so idempotency and the "lost event"
  fallback can be tested on purpose.

Each event is delivered on its own daemon thread, never under the state lock, so a slow or dead
receiver cannot hold up the request (or lifecycle tick) that finished the job. The POST goes through
`http.client` (standard library, what `urllib.request` is built on) rather than `urlopen`, because a
webhook sender must not follow redirects or pick up `http_proxy` settings (the receiver is usually on
loopback), and because `stop()` needs the socket to cut short a POST to a receiver that hangs.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
EVENT_TYPES = {status: f"fine_tuning.job.{status}" for status in ("succeeded", "failed", "cancelled")}
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.05, 0.2, 0.5)
DEFAULT_TIMEOUT_SECONDS = 2.0
USER_AGENT = "labeltune-openai-emulator/1.0 (webhooks)"
_MAX_ANSWER_BYTES = 64 * 1024  # the receiver's answer is read (to keep the exchange clean) but not kept


def generate_webhook_secret(n_bytes: int = 32) -> str:
    """A fresh `whsec_<base64 key>` secret like the one OpenAI shows once when an endpoint is created.

    Standard Webhooks asks for 24 to 64 random bytes; 32 is what its reference libraries generate.
    """
    if not 24 <= n_bytes <= 64:
        raise ValueError("n_bytes must be between 24 and 64")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(n_bytes)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret.

    A malformed secret is refused here: the SDK would silently use a prefix-less secret as raw bytes,
    and the mistake would only show up later as signatures that never verify.
    """
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook_secret must be a 'whsec_<base64 key>' secret (see generate_webhook_secret())")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("webhook_secret: the part after 'whsec_' is not valid base64") from None
    if not key:
        raise ValueError("webhook_secret: the key after 'whsec_' is empty")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `{webhook_id}.{timestamp}.{body}`."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), content, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (timestamp: now, unless given)."""
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, webhook_id, at, body),
    }


def job_event(job_id: str, status: str, at: float) -> dict[str, Any]:
    """The event OpenAI posts when a job ends; `at` (the transition time) becomes `created_at`."""
    if status not in EVENT_TYPES:
        raise ValueError(f"no webhook event for job status {status!r}")
    return {
        "id": "evt_" + secrets.token_hex(16),
        "object": "event",
        "created_at": int(at),
        "type": EVENT_TYPES[status],
        "data": {"id": job_id},
    }


def check_url(url: str | None) -> str | None:
    """An http(s) URL with a host (or None: no endpoint), checked when set rather than on the first event."""
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError(f"webhook_url has an invalid port: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook_url must be an http(s) URL with a host, got {url!r}")
    return url


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery attempt: `status` is the receiver's HTTP answer, `error` why there was none."""

    event: dict[str, Any]
    webhook_id: str
    url: str
    attempt: int  # 1 for the first try of a delivery, 2, 3... for its retries
    redelivery: bool  # True for the second copy sent in duplicate mode
    status: int | None
    error: str | None
    at: float  # wall-clock time the attempt ended

    @property
    def ok(self) -> bool:
        """A 2xx answer: the only thing that ends a delivery before its attempts run out."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class _Outgoing:
    """An event on its way, with the configuration it was emitted under (later changes do not touch it)."""

    event: dict[str, Any]
    body: bytes
    webhook_id: str
    url: str
    secret: str
    copies: int
    retry_delays: tuple[float, ...]
    timeout_seconds: float
    stopping: threading.Event


class WebhookSender:
    """Emits one event per finished job and delivers it on its own thread (see the module docstring).

    Configuration may be changed while running; an event uses the configuration of the moment it was
    emitted. Events are delivered only between `start()` and `stop()`.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        secret: str | None = None,
        drop: bool = False,
        duplicate: bool = False,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._running = False
        self._threads: set[threading.Thread] = set()
        self._connections: set[http.client.HTTPConnection] = set()
        self._events: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._dropped: list[dict[str, Any]] = []
        self._deliveries: list[WebhookDelivery] = []
        self.url = url
        self.secret = secret if secret is not None else generate_webhook_secret()
        self.drop = drop  # events are recorded as dropped and never sent: the "lost event" case
        self.duplicate = duplicate  # every event is delivered twice: the "repeated event" case
        self.retry_delays = tuple(retry_delays)
        self.timeout_seconds = timeout_seconds

    # -- configuration ---------------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        return self._url

    @url.setter
    def url(self, value: str | None) -> None:
        self._url = check_url(value)

    @property
    def secret(self) -> str:
        return self._secret

    @secret.setter
    def secret(self, value: str) -> None:
        secret_key(value)
        self._secret = value

    @property
    def retry_delays(self) -> tuple[float, ...]:
        """Seconds to wait before each retry: `(0.05, 0.2, 0.5)` is 4 attempts in all."""
        return self._retry_delays

    @retry_delays.setter
    def retry_delays(self, value: Sequence[float]) -> None:
        delays = tuple(float(delay) for delay in value)
        if any(delay < 0 for delay in delays):
            raise ValueError("webhook retry delays must be >= 0")
        self._retry_delays = delays

    @property
    def timeout_seconds(self) -> float:
        """How long one attempt waits to connect and for the answer before it counts as failed."""
        return self._timeout_seconds

    @timeout_seconds.setter
    def timeout_seconds(self, value: float) -> None:
        if value <= 0:
            raise ValueError("webhook timeout_seconds must be > 0")
        self._timeout_seconds = float(value)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver events from now on (a fresh stop signal, so threads of an earlier run stay stopped)."""
        with self._lock:
            self._stopping = threading.Event()
            self._running = True

    def stop(self, timeout: float = 2.0) -> None:
        """Abandon pending deliveries: wake backoff waits, cut in-flight POSTs, join the threads.

        An attempt cut short is recorded with the error "aborted: the emulator stopped"; the event
        is not sent. A thread still connecting when this is called ends within `timeout_seconds`.
        """
        with self._lock:
            self._running = False
            self._stopping.set()
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- events ----------------------------------------------------------------------------------

    def emit(self, job_id: str, status: str, at: float) -> None:
        """Record the event of a job that reached `status` at `at`, and deliver it unless dropped.

        Called with the state lock held (so the event exists before anyone can read the terminal
        status): it only records and starts a thread, the POST happens on that thread.
        """
        event = job_event(job_id, status, at)
        with self._lock:
            self._events.append(event)
            if self.drop:
                self._dropped.append(event)
                self._changed.notify_all()
                return
            if self._url is None:
                return
            if not self._running:
                log.info("webhook %s not delivered: the emulator is not running", event["id"])
                return
            outgoing = _Outgoing(
                event=event,
                body=json.dumps(event, separators=(",", ":")).encode(),
                webhook_id="wh_" + secrets.token_hex(16),
                url=self._url,
                secret=self._secret,
                copies=2 if self.duplicate else 1,
                retry_delays=self._retry_delays,
                timeout_seconds=self._timeout_seconds,
                stopping=self._stopping,
            )
            thread = threading.Thread(
                target=self._deliver, args=(outgoing,), name=f"openai-emulator-webhook:{event['id']}", daemon=True
            )
            self._threads.add(thread)
            # Started under our lock, so stop() never sees (and joins) a thread that was not started.
            thread.start()

    def _deliver(self, outgoing: _Outgoing) -> None:
        try:
            for copy_number in range(outgoing.copies):
                if outgoing.stopping.is_set():
                    return
                self._deliver_once(outgoing, redelivery=copy_number > 0)
        except Exception:
            log.exception("webhook delivery of %s crashed", outgoing.event["id"])
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._changed.notify_all()

    def _deliver_once(self, outgoing: _Outgoing, *, redelivery: bool) -> None:
        """Attempts with backoff until a 2xx, the attempts run out, or the emulator stops."""
        for attempt, delay in enumerate((0.0, *outgoing.retry_delays), start=1):
            if outgoing.stopping.wait(delay) if delay > 0 else outgoing.stopping.is_set():
                return
            status, error = self._post(outgoing)
            delivery = WebhookDelivery(
                event=copy.deepcopy(outgoing.event),
                webhook_id=outgoing.webhook_id,
                url=outgoing.url,
                attempt=attempt,
                redelivery=redelivery,
                status=status,
                error=error,
                at=time.time(),
            )
            with self._lock:
                self._deliveries.append(delivery)
                if delivery.ok:
                    self._sent.append(copy.deepcopy(outgoing.event))
                self._changed.notify_all()
            if delivery.ok:
                return
        log.warning(
            "webhook %s to %s given up after %d attempt(s)",
            outgoing.event["id"],
            outgoing.url,
            1 + len(outgoing.retry_delays),
        )

    def _post(self, outgoing: _Outgoing) -> tuple[int | None, str | None]:
        """One signed POST: (status, None) for any HTTP answer, (None, error) when there was none."""
        parts = urlsplit(outgoing.url)
        factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = factory(parts.hostname or "", parts.port, timeout=outgoing.timeout_seconds)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed_headers(outgoing.secret, outgoing.webhook_id, outgoing.body),
        }
        with self._lock:
            self._connections.add(connection)
        try:
            connection.request("POST", target, body=outgoing.body, headers=headers)
            answer = connection.getresponse()
            answer.read(_MAX_ANSWER_BYTES)
            return answer.status, None
        except (OSError, http.client.HTTPException) as error:
            if outgoing.stopping.is_set():
                return None, "aborted: the emulator stopped"
            return None, f"{type(error).__name__}: {error}"
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    # -- introspection ---------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event emitted, once each, oldest first (sent, dropped, or with nowhere to go)."""
        with self._lock:
            return copy.deepcopy(self._events)

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Events the receiver answered 2xx, in the order they were acknowledged (twice in duplicate mode)."""
        with self._lock:
            return copy.deepcopy(self._sent)

    @property
    def dropped(self) -> list[dict[str, Any]]:
        """Events lost on purpose (`drop`), never sent."""
        with self._lock:
            return copy.deepcopy(self._dropped)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every attempt, in the order they ended."""
        with self._lock:
            return list(self._deliveries)

    @property
    def in_flight(self) -> int:
        """Deliveries still being attempted or waiting to retry."""
        with self._lock:
            return len(self._threads)

    def wait_for_sent(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until `count` events were acknowledged (2xx); TimeoutError, listing the attempts, if not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._sent) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    attempts = [(d.event["type"], d.attempt, d.status or d.error) for d in self._deliveries]
                    raise TimeoutError(
                        f"{len(self._sent)} of {count} webhook(s) acknowledged within {timeout} s "
                        f"(emitted {len(self._events)}, dropped {len(self._dropped)}, attempts {attempts})"
                    )
                self._changed.wait(remaining)
            return copy.deepcopy(self._sent)

    def clear(self) -> None:
        """Forget recorded events and attempts (deliveries in flight go on and are recorded afresh)."""
        with self._lock:
            self._events.clear()
            self._sent.clear()
            self._dropped.clear()
            self._deliveries.clear()
