"""Fine-tuning webhooks: what the emulator POSTs when a job ends, checked with the real SDK's `unwrap`.

The receiver below is a small loopback HTTP server that records every POST and answers with scripted
statuses, so retries, duplicates, lost events and a hanging endpoint can each be provoked on purpose.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from openai import InvalidWebhookSignatureError, OpenAI
from openai.types.webhooks import (
    FineTuningJobCancelledWebhookEvent,
    FineTuningJobFailedWebhookEvent,
    FineTuningJobSucceededWebhookEvent,
    UnwrapWebhookEvent,
)

from labeltune_tools.emulator import OpenAIEmulator, generate_webhook_secret
from labeltune_tools.emulator.webhooks import secret_key, sign
from tests.emulator.conftest import JOB_SECONDS, example, jsonl

FAST_RETRIES = (0.02, 0.05)
EVENT_CLASSES: dict[
    str, type[FineTuningJobSucceededWebhookEvent | FineTuningJobFailedWebhookEvent | FineTuningJobCancelledWebhookEvent]
] = {
    "succeeded": FineTuningJobSucceededWebhookEvent,
    "failed": FineTuningJobFailedWebhookEvent,
    "cancelled": FineTuningJobCancelledWebhookEvent,
}


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint on loopback: records each POST (before answering), answers `statuses` then 200.

    `hang()` makes it hold every request until `release()` (or close), as an endpoint that never answers.
    """

    def __init__(self) -> None:
        self.statuses: deque[int] = deque()
        self._requests: list[Received] = []
        self._changed = threading.Condition()
        self._hanging = threading.Event()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(Received(body, dict(self.headers.items()), time.monotonic()))
                if receiver._hanging.is_set():
                    receiver._released.wait(10)
                status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/openai"

    def _record(self, received: Received) -> None:
        with self._changed:
            self._requests.append(received)
            self._changed.notify_all()

    @property
    def requests(self) -> list[Received]:
        with self._changed:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"receiver got {len(self._requests)} of {count} webhook POSTs")
            return list(self._requests)

    def hang(self) -> None:
        self._hanging.set()

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def emulator(receiver: Receiver) -> Iterator[OpenAIEmulator]:
    """Overrides conftest's: the same emulator, sending webhooks to `receiver` with fast retries."""
    with OpenAIEmulator(
        job_duration_seconds=JOB_SECONDS, webhook_url=receiver.url, webhook_retry_delays=FAST_RETRIES
    ) as running:
        yield running


@pytest.fixture
def start_job(client: OpenAI, upload: Callable[..., str], training_bytes: bytes) -> Callable[..., str]:
    def _start(content: bytes = training_bytes) -> str:
        return client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(content)).id

    return _start


def unwrap(received: Received, secret: str) -> UnwrapWebhookEvent:
    with OpenAI(api_key="unused", webhook_secret=secret) as sdk:
        return sdk.webhooks.unwrap(received.body, received.headers)


def webhook_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("openai-emulator-webhook")]


# -- signing -----------------------------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    """The spec's published vector (standard-webhooks/standard-webhooks, spec/standard-webhooks.md)."""
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secrets_are_fresh_32_byte_whsec_keys_and_bad_configuration_is_refused() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    for bad in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!"):
        with pytest.raises(ValueError, match="webhook_secret"):
            OpenAIEmulator(webhook_secret=bad)
    with pytest.raises(ValueError, match="webhook_url"):
        OpenAIEmulator(webhook_url="ftp://127.0.0.1/hooks")
    with pytest.raises(ValueError, match="retry delays"):
        OpenAIEmulator(webhook_retry_delays=(0.1, -1))
    assert OpenAIEmulator().webhook_secret.startswith("whsec_")  # every endpoint has a secret, as on OpenAI


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "cancelled"])
def test_each_terminal_event_verifies_with_the_sdks_unwrap(
    outcome: str, emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    job_id = start_job()
    if outcome == "failed":
        emulator.force_job_failure(job_id, "server_error", "boom")
    elif outcome == "cancelled":
        client.fine_tuning.jobs.cancel(job_id)
    (received,) = receiver.wait_for(1)

    event = unwrap(received, emulator.webhook_secret)

    # The SDK builds any valid-signature JSON loosely (notes section 11), so check the class it chose too.
    assert isinstance(event, EVENT_CLASSES[outcome])
    assert event.type == f"fine_tuning.job.{outcome}"
    assert event.data.id == job_id
    payload = received.json()
    assert payload == {
        "id": event.id,
        "object": "event",
        "created_at": payload["created_at"],
        "type": f"fine_tuning.job.{outcome}",
        "data": {"id": job_id},
    }
    assert payload["id"].startswith("evt_")
    assert abs(payload["created_at"] - time.time()) < 5
    assert received.headers["Content-Type"] == "application/json"
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 5
    assert emulator.sent_webhook_events == [payload]


def test_a_wrong_secret_or_a_changed_body_fails_unwrap(
    emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    client.fine_tuning.jobs.cancel(start_job())
    (received,) = receiver.wait_for(1)
    unwrap(received, emulator.webhook_secret)  # the right secret verifies

    with pytest.raises(InvalidWebhookSignatureError, match="does not match"):
        unwrap(received, generate_webhook_secret())
    tampered = Received(received.body.replace(b"cancelled", b"succeeded"), received.headers, received.at)
    with pytest.raises(InvalidWebhookSignatureError, match="does not match"):
        unwrap(tampered, emulator.webhook_secret)


# -- when events are emitted --------------------------------------------------------------------------


def test_a_job_nobody_polls_still_finishes_and_notifies(
    emulator: OpenAIEmulator, receiver: Receiver, start_job: Callable[..., str]
) -> None:
    """The point of webhooks: no `retrieve` after create, and the event still arrives when the job ends."""
    created = time.monotonic()
    job_id = start_job()

    (received,) = receiver.wait_for(1, timeout=3)

    assert received.json()["type"] == "fine_tuning.job.succeeded"
    assert received.json()["data"]["id"] == job_id
    assert JOB_SECONDS * 0.9 <= received.at - created < JOB_SECONDS + 1.0


def test_exactly_one_event_per_terminal_transition(
    emulator: OpenAIEmulator,
    receiver: Receiver,
    client: OpenAI,
    start_job: Callable[..., str],
    wait_for_job: Callable[[str], object],
) -> None:
    succeeded = start_job()
    invalid = start_job(jsonl([example(0), example(1)]))  # under 10 examples: fails at validation
    forced = start_job()
    emulator.force_job_failure(forced, "server_error", "boom")
    cancelled = start_job()
    client.fine_tuning.jobs.cancel(cancelled)
    emulator.wait_for_webhooks(4)

    # Reads of finished jobs, lists and a refused second cancel must not emit anything more.
    for job_id in (succeeded, invalid, forced, cancelled):
        wait_for_job(job_id)
        client.fine_tuning.jobs.retrieve(job_id)
    client.fine_tuning.jobs.list()
    with pytest.raises(Exception, match="cannot be cancelled"):
        client.fine_tuning.jobs.cancel(cancelled)
    time.sleep(JOB_SECONDS + 0.1)  # past every job's natural end: a cancelled job must not also succeed

    by_job = {event["data"]["id"]: event["type"] for event in emulator.webhook_events}
    assert len(emulator.webhook_events) == 4
    assert by_job == {
        succeeded: "fine_tuning.job.succeeded",
        invalid: "fine_tuning.job.failed",
        forced: "fine_tuning.job.failed",
        cancelled: "fine_tuning.job.cancelled",
    }
    assert len(receiver.requests) == 4
    assert sorted(event["id"] for event in emulator.sent_webhook_events) == sorted(
        event["id"] for event in emulator.webhook_events
    )
    assert client.fine_tuning.jobs.retrieve(invalid).error.code == "invalid_training_file"


# -- delivery -----------------------------------------------------------------------------------------


def test_dropped_events_are_recorded_and_never_sent(
    emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    emulator.drop_webhooks = True
    lost = start_job()
    client.fine_tuning.jobs.cancel(lost)

    time.sleep(0.2)
    assert [event["data"]["id"] for event in emulator.dropped_webhook_events] == [lost]
    assert emulator.webhook_events == emulator.dropped_webhook_events
    assert receiver.requests == []
    assert emulator.webhook_deliveries == []
    assert emulator.sent_webhook_events == []

    emulator.drop_webhooks = False  # settable while running: the next event goes out again
    client.fine_tuning.jobs.cancel(delivered := start_job())
    assert receiver.wait_for(1)[0].json()["data"]["id"] == delivered
    assert len(emulator.dropped_webhook_events) == 1


def test_a_500_is_retried_with_backoff_under_the_same_webhook_id(
    emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    receiver.statuses.append(500)
    client.fine_tuning.jobs.cancel(start_job())

    (sent,) = emulator.wait_for_webhooks(1)

    first, second = receiver.wait_for(2)
    assert [(d.attempt, d.status, d.error) for d in emulator.webhook_deliveries] == [(1, 500, None), (2, 200, None)]
    assert second.at - first.at >= FAST_RETRIES[0]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert unwrap(first, emulator.webhook_secret).id == unwrap(second, emulator.webhook_secret).id == sent["id"]
    assert all(d.event == sent for d in emulator.webhook_deliveries)


def test_an_unreachable_endpoint_is_retried_a_bounded_number_of_times(
    emulator: OpenAIEmulator, client: OpenAI, start_job: Callable[..., str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    emulator.webhook_url = f"http://127.0.0.1:{closed_port}/hooks"
    client.fine_tuning.jobs.cancel(start_job())

    deadline = time.monotonic() + 3
    while (emulator.webhooks_in_flight or not emulator.webhook_deliveries) and time.monotonic() < deadline:
        time.sleep(0.01)

    deliveries = emulator.webhook_deliveries
    assert [d.attempt for d in deliveries] == [1, 2, 3]  # 1 + len(FAST_RETRIES), then it gives up
    assert all(d.status is None and d.error for d in deliveries)
    assert emulator.sent_webhook_events == []
    assert webhook_threads() == []


def test_duplicate_mode_delivers_the_same_event_twice(
    emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    emulator.duplicate_webhooks = True
    client.fine_tuning.jobs.cancel(start_job())

    first, second = emulator.wait_for_webhooks(2)

    assert first == second
    assert len(emulator.webhook_events) == 1
    copies = receiver.wait_for(2)
    assert copies[0].headers["webhook-id"] == copies[1].headers["webhook-id"]
    assert [unwrap(copy, emulator.webhook_secret).id for copy in copies] == [first["id"], first["id"]]
    assert [d.redelivery for d in emulator.webhook_deliveries] == [False, True]


def test_without_a_webhook_url_nothing_is_sent_and_jobs_work(receiver: Receiver) -> None:
    with (
        OpenAIEmulator(job_duration_seconds=0.1) as plain,
        OpenAI(base_url=plain.base_url, api_key="sk-test") as sdk,
    ):
        training = sdk.files.create(file=("t.jsonl", jsonl([example(i) for i in range(10)])), purpose="fine-tune").id
        cancelled = sdk.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training).id
        assert sdk.fine_tuning.jobs.cancel(cancelled).status == "cancelled"
        finished = sdk.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training).id
        time.sleep(0.2)
        assert sdk.fine_tuning.jobs.retrieve(finished).status == "succeeded"

        assert plain.webhook_url is None
        assert [event["type"] for event in plain.webhook_events] == [
            "fine_tuning.job.cancelled",
            "fine_tuning.job.succeeded",
        ]
        assert plain.webhook_deliveries == plain.sent_webhook_events == plain.dropped_webhook_events == []
        with pytest.raises(TimeoutError, match="0 of 1"):
            plain.wait_for_webhooks(1, timeout=0.1)

        plain.webhook_url = receiver.url  # configured later: later events go out, earlier ones do not
        sdk.fine_tuning.jobs.cancel(sdk.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training).id)
        assert [r.json()["type"] for r in receiver.wait_for(1)] == ["fine_tuning.job.cancelled"]
        time.sleep(0.1)
        assert len(receiver.requests) == 1


def test_a_hanging_endpoint_blocks_neither_the_request_nor_other_calls(
    emulator: OpenAIEmulator, receiver: Receiver, client: OpenAI, start_job: Callable[..., str]
) -> None:
    receiver.hang()
    job_id = start_job()

    started = time.monotonic()
    client.fine_tuning.jobs.cancel(job_id)
    receiver.wait_for(1)  # the POST is in flight and the endpoint is holding it
    client.fine_tuning.jobs.retrieve(job_id)
    client.fine_tuning.jobs.list()
    assert time.monotonic() - started < 1.0
    assert emulator.webhooks_in_flight == 1

    receiver.release()
    assert len(emulator.wait_for_webhooks(1)) == 1


# -- shutdown -----------------------------------------------------------------------------------------


def test_stop_while_a_delivery_waits_to_retry_returns_quickly(receiver: Receiver) -> None:
    receiver.statuses.extend([500] * 5)
    emulator = OpenAIEmulator(job_duration_seconds=0, webhook_url=receiver.url, webhook_retry_delays=(30.0,)).start()
    try:
        with OpenAI(base_url=emulator.base_url, api_key="sk-test") as sdk:
            training = sdk.files.create(file=("t.jsonl", jsonl([example(i) for i in range(10)])), purpose="fine-tune")
            sdk.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training.id)  # finished on create
        receiver.wait_for(1)
        deadline = time.monotonic() + 2
        while not emulator.webhook_deliveries and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emulator.webhooks_in_flight == 1  # now waiting 30 s for its retry
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 1.0
    assert webhook_threads() == []
    assert [d.status for d in emulator.webhook_deliveries] == [500]
    assert emulator.sent_webhook_events == []


def test_stop_cuts_short_a_post_the_endpoint_never_answers(receiver: Receiver) -> None:
    receiver.hang()
    emulator = OpenAIEmulator(job_duration_seconds=0, webhook_url=receiver.url, webhook_timeout_seconds=30).start()
    try:
        with OpenAI(base_url=emulator.base_url, api_key="sk-test") as sdk:
            training = sdk.files.create(file=("t.jsonl", jsonl([example(i) for i in range(10)])), purpose="fine-tune")
            sdk.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training.id)
        receiver.wait_for(1)
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 1.0
    assert webhook_threads() == []
    assert [(d.status, d.error) for d in emulator.webhook_deliveries] == [(None, "aborted: the emulator stopped")]
