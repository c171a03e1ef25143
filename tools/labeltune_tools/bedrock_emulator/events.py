"""EventBridge "Model Customization Job State Change" events, and their best-effort delivery.

The event shape follows the sample in the Bedrock user guide ("How EventBridge for Amazon Bedrock
works"): the status is `detail.jobStatus` (not `status`), and the finish time is `detail.endTime`.
The sample's `validationDataConfig` is `{"s3Uri"}` (the API's is `{"validators": [...]}`); the
emulator follows the sample. Everything a consumer reads is built in `job_state_change_event`, so a
correction to the shape is a change in one place.

Delivery is asynchronous, on its own thread, as EventBridge's is: a callback that calls back into the
emulator cannot deadlock it, and a test waits with `BedrockEmulator.wait_for_events`.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

SOURCE = "aws.bedrock"
DETAIL_TYPE = "Model Customization Job State Change"
DETAIL_VERSION = "0.0"
STATUS_FIELD = "jobStatus"  # as in AWS's sample event
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

# GetModelCustomizationJob fields copied into `detail` as they are, when the job has them.
_COPIED = (
    "jobName",
    "jobArn",
    "outputModelName",
    "outputModelArn",
    "roleArn",
    "failureMessage",
    "creationTime",
    "lastModifiedTime",
    "endTime",
    "baseModelArn",
    "hyperParameters",
    "trainingDataConfig",
    "outputDataConfig",
)

EventCallback = Callable[[dict[str, Any]], None]


def event_time(epoch: float) -> str:
    """EventBridge's `time`: ISO 8601 in UTC, whole seconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_state_change_event(job: dict[str, Any], *, account: str, region: str, now: float) -> dict[str, Any]:
    """The event for a job as `GetModelCustomizationJob` shows it (`job` is that response's body)."""
    detail: dict[str, Any] = {"version": DETAIL_VERSION}
    for name in _COPIED:
        if job.get(name) is not None:
            detail[name] = job[name]
    detail[STATUS_FIELD] = job["status"]
    validators = job.get("validationDataConfig", {}).get("validators", [])
    if validators:
        detail["validationDataConfig"] = {"s3Uri": validators[0]["s3Uri"]}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": event_time(now),
        "region": region,
        "resources": [job["jobArn"]],
        "detail": detail,
    }


class EventBus:
    """Queues events and hands them to the callback on a daemon thread; drops them on request."""

    def __init__(self, callback: EventCallback | None, *, drop: bool = False) -> None:
        self.callback = callback
        self.drop = drop
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._delivered: list[dict[str, Any]] = []
        self._dropped: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0

    def publish(self, event: dict[str, Any]) -> None:
        """Queue an event (or record it as dropped); never blocks, so callers may hold their own lock."""
        with self._lock:
            if self.drop:
                self._dropped.append(event)
                return
            self._in_flight += 1
        self._queue.put(event)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bedrock-emulator-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            callback = self.callback
            if callback is not None:
                try:
                    callback(event)
                except Exception:
                    log.exception("the on_event callback failed on %s", event.get("id"))
            with self._lock:
                self._delivered.append(event)
                self._in_flight -= 1
                self._idle.notify_all()

    def wait(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Wait until `count` events were delivered (and none is in flight); return the delivered ones."""
        with self._lock:
            self._idle.wait_for(lambda: len(self._delivered) >= count and self._in_flight == 0, timeout)
            return list(self._delivered)

    def delivered(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._delivered)

    def dropped(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._dropped)
