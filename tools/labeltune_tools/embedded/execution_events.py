"""Step Functions' "Execution Status Change" events, locally.

A deployed stack gets one EventBridge event from Step Functions whenever an execution ends; template.yaml's
ExecutionEndedBadly rule sends those of FAILED, TIMED_OUT and ABORTED executions to RecordOutcome, which closes
the run and frees its project (a cancelled run's included). moto emits no such events, so this pump polls moto's
executions and hands each one that ended badly, once, to `EmbeddedStack.deliver_event` in the shape AWS
documents: the template's own rule pattern then decides where it goes, as deployed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")  # what the pump looks for; the rule pattern still decides
POLL_SECONDS = 1.0


def _millis(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def status_change_event(execution: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """DescribeExecution's answer as EventBridge's "Step Functions Execution Status Change" event (times in
    epoch milliseconds; error and cause null when the execution has none, as AWS sends them)."""
    arn = str(execution["executionArn"])
    stopped = execution.get("stopDate")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": (stopped or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _millis(execution.get("startDate")),
            "stopDate": _millis(stopped),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if execution.get("output") is not None else None,
            "error": execution.get("error") or None,
            "cause": execution.get("cause") or None,
        },
    }


class ExecutionEventPump:
    """A daemon thread: every POLL_SECONDS, the state machine's executions that ended badly and were not handed on
    yet are described and delivered, each once. Its AWS calls are the tooling's (`client`), never a function's."""

    def __init__(
        self,
        client: Any,
        state_machine_arn: str,
        deliver: Callable[[dict[str, Any]], None],
        region: str,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._sfn, self._arn, self._deliver, self._region = client, state_machine_arn, deliver, region
        self._poll = poll_seconds
        self._account = state_machine_arn.split(":")[4]
        self.delivered: set[str] = set()
        self._lock = threading.Lock()  # the thread's tick and a caller's pump_once deliver each execution once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labeltune-execution-events", daemon=True)

    def start(self) -> ExecutionEventPump:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.pump_once()
            except Exception:  # moto stopping under it, mostly: the next tick looks again
                log.debug("execution event pump tick failed", exc_info=True)

    def ended_badly(self) -> list[str]:
        arns: list[str] = []
        for status in ENDED_BADLY:
            request: dict[str, Any] = {"stateMachineArn": self._arn, "statusFilter": status, "maxResults": 100}
            while True:
                page = self._sfn.list_executions(**request)
                arns.extend(str(item["executionArn"]) for item in page.get("executions", []))
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        return arns

    def pump_once(self) -> int:
        """Deliver what ended badly since the last tick; how many events were delivered."""
        count = 0
        with self._lock:
            for arn in self.ended_badly():
                if arn in self.delivered:
                    continue
                self.delivered.add(arn)  # once, even when its target fails (EventBridge's retries are not emulated)
                execution = self._sfn.describe_execution(executionArn=arn)
                self._deliver(status_change_event(execution, self._account, self._region))
                count += 1
        return count
