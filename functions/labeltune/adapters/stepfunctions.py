"""Step Functions: starting a run's execution (named by the run id, so a second start is a no-op), stopping it and
reading its history (the runs API), and resuming one that waits on a task token."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3

HISTORY_PAGE = 1000  # GetExecutionHistory's largest maxResults


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client: Any | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = client or boto3.client("stepfunctions")

    def start(self, run_id: str, payload: Mapping[str, Any]) -> bool:
        try:
            self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=run_id, input=json.dumps(dict(payload))
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def execution_arn(self, run_id: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"

    def status(self, run_id: str) -> str | None:
        try:
            return str(self._sfn.describe_execution(executionArn=self.execution_arn(run_id))["status"])
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None

    def stop(self, run_id: str, error: str, cause: str) -> bool:
        """StopExecution: an execution that already ended is left as it is (Step Functions answers as for a stop)."""
        try:
            self._sfn.stop_execution(executionArn=self.execution_arn(run_id), error=error, cause=cause)
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True

    def describe(self, run_id: str) -> dict[str, Any] | None:
        try:
            execution = self._sfn.describe_execution(executionArn=self.execution_arn(run_id))
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
        return {
            "status": str(execution["status"]),
            "start_date": execution.get("startDate"),
            "stop_date": execution.get("stopDate"),
        }

    def history(self, run_id: str, max_events: int) -> tuple[list[dict[str, Any]], bool]:
        """GetExecutionHistory page by page (1000 events each, the most it gives) until `max_events` are read."""
        events: list[dict[str, Any]] = []
        request: dict[str, Any] = {"executionArn": self.execution_arn(run_id), "includeExecutionData": False}
        while True:
            request["maxResults"] = min(HISTORY_PAGE, max_events - len(events) + 1)
            try:
                page = self._sfn.get_execution_history(**request)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                return [], False
            events.extend(page.get("events", []))
            if len(events) > max_events:
                return events[:max_events], True
            token = page.get("nextToken")
            if not token:
                return events, False
            if len(events) == max_events:
                return events, True
            request["nextToken"] = token


class StepFunctionsCallbacks:
    """WorkflowCallbacks on Step Functions' SendTaskSuccess. A token that is no longer waited on is not an
    error: the event and the state's own check may both resume it, and only the first one does."""

    def __init__(self, client: Any | None = None) -> None:
        self._sfn = client or boto3.client("stepfunctions")

    def resume(self, token: str, output: Mapping[str, Any]) -> bool:
        errors = self._sfn.exceptions
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(dict(output)))
        except (errors.TaskTimedOut, errors.InvalidToken, errors.TaskDoesNotExist):
            return False
        return True
