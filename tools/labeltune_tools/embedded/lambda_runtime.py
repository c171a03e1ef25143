"""Run the real Lambda handlers in process when moto invokes a function (there is no Docker here).

moto routes every invocation (direct invoke, Step Functions tasks) through
`LambdaFunction._invoke_lambda`. Replacing it lets the handler named by the function's `Handler` run
with exactly that function's environment variables and a Lambda-like context. Environment variables
are process-wide, so only invocations of one function at a time run (concurrently among themselves).

While a function runs, every AWS API call made in the process is recorded under its name, so tests can check
the calls against the IAM policies the template grants that function: every client, whatever session made it
(Powertools' parameters and idempotency utilities make their own) and whatever thread calls it (handlers fan
work out to thread pools). Only the calls of moto's own Step Functions engine and of the local tooling (the
demo, the tests), each signed with its own access key, are not a function's.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

# The functions' credentials (EmbeddedStack sets them in the environment): only calls signed with them are a
# function's. moto's engine signs with its own ("ak"), the stack's tooling with TOOLING_ACCESS_KEY, the emulators'
# convenience clients and tests with others; none of those is a function's call, whichever function is running.
FUNCTION_ACCESS_KEY = "local"
TOOLING_ACCESS_KEY = "local-tooling"  # sessions of the local stack's own tooling (EmbeddedStack.client_session)


def tooling_session(region: str) -> boto3.Session:
    """A session whose calls are the tooling's, never a function's (see FUNCTION_ACCESS_KEY)."""
    return boto3.Session(aws_access_key_id=TOOLING_ACCESS_KEY, aws_secret_access_key="local", region_name=region)


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from a real Lambda context."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass(frozen=True)
class AwsCall:
    function: str
    service: str
    operation: str
    params: Mapping[str, Any]


@dataclass
class Crash:
    """An injected failure of a function's invocations (see InProcessLambdaRuntime.crash_next)."""

    function: str
    times: int
    error_type: str
    message: str
    after_handler: bool
    when: Callable[[Any], bool] | None


class InjectedCrash(Exception):
    def __init__(self, crash: Crash) -> None:
        super().__init__(crash.message)
        self.crash = crash


def _clear_metrics() -> None:
    """What a Lambda's metrics flush leaves behind: nothing. The local stack runs with POWERTOOLS_METRICS_DISABLED,
    under which Powertools skips the flush without clearing its (process-wide) metric set, so one long-lived
    process would keep every value and print them as EMF once a metric reaches 100 values."""
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()


def _switch_environment(target: Mapping[str, str]) -> None:
    """Make os.environ `target`, changing only what differs, and never removing a key: a key `target` lacks is
    set to "" (which Settings and the SDKs read as unset). Threads outside any function (moto's engine creating a
    client, an emulator's event thread) read os.environ while it switches, some by iterating it (`dict(os.environ)`
    lists the keys, then reads each): a key removed in between raised KeyError in that thread, and failed a state
    with error "Exception". EmbeddedStack.stop() restores the environment exactly."""
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    for key in [k for k in os.environ if k not in target and os.environ.get(k)]:
        os.environ[key] = ""


class InProcessLambdaRuntime:
    """Installs the moto patch; one instance per process."""

    def __init__(self) -> None:
        self._gate = threading.Condition()
        self._holders = 0
        self._waiting: Counter[str] = Counter()
        self._saved_environment: dict[str, str] = {}
        self.calls: list[AwsCall] = []
        self.invocations: list[tuple[str, bool]] = []  # (function name, errored)
        self.events: list[tuple[str, Any]] = []  # (function name, the event it was invoked with), in order
        self.managed_keys: set[str] = set()
        self._current: str | None = None
        self._last: str | None = None
        self._original: Callable[..., Any] | None = None
        self._hooked = False
        self._crashes: list[Crash] = []

    # -- fault injection ------------------------------------------------------------------------------
    def crash_next(
        self,
        function: str,
        *,
        times: int = 1,
        error_type: str = "Sandbox.Timedout",
        message: str = "Task timed out after 900.00 seconds",
        after_handler: bool = False,
        when: Callable[[Any], bool] | None = None,
    ) -> None:
        """The next `times` invocations of a function whose name contains `function` (and whose event passes
        `when`) fail as Lambda reports a crash: before the handler runs, or, with `after_handler`, after it did
        its work (a timeout after side effects). The default is how a function timeout surfaces, which the state
        machine does not retry."""
        with self._gate:
            self._crashes.append(Crash(function, times, error_type, message, after_handler, when))

    def _crash_for(self, function_name: str, event: Any) -> Crash | None:
        with self._gate:
            for crash in self._crashes:
                if crash.function in function_name and (crash.when is None or crash.when(event)):
                    crash.times -= 1
                    if crash.times <= 0:
                        self._crashes.remove(crash)
                    return crash
        return None

    # -- environment ----------------------------------------------------------------------------------
    def enter_function(self, name: str, variables: Mapping[str, str]) -> None:
        """Wait until the process can take this function's environment, then hold it.

        Invocations of the same function share the environment and run concurrently (like concurrent
        Lambda instances); another function waits until they are done. A function that is waiting stops
        new invocations of the running one from joining, so neither side starves.
        """
        with self._gate:
            self._waiting[name] += 1
            while not (
                self._holders == 0
                or (self._current == name and not any(n != name and c for n, c in self._waiting.items()))
            ):
                self._gate.wait()
            self._waiting[name] -= 1
            if self._holders == 0:
                self._saved_environment = dict(os.environ)
                wanted = {k: str(v) for k, v in variables.items()}
                _switch_environment({**{k: v for k, v in os.environ.items() if k not in self.managed_keys}, **wanted})
                if self._last != name:  # another function's container: nothing it read is cached here
                    from aws_lambda_powertools.utilities import parameters

                    parameters.clear_caches()
                self._current = self._last = name
            self._holders += 1

    def exit_function(self) -> None:
        with self._gate:
            self._holders -= 1
            if self._holders == 0:
                self._current = None
                _clear_metrics()
                _switch_environment(self._saved_environment)
            self._gate.notify_all()

    @contextmanager
    def function_environment(self, name: str, variables: Mapping[str, str]) -> Iterator[None]:
        self.enter_function(name, variables)
        try:
            yield
        finally:
            self.exit_function()

    # -- AWS call recording ------------------------------------------------------------------------------
    def _note(self, client: Any, operation: str, params: Mapping[str, Any]) -> None:
        """Remember a call made while a function runs, unless moto's engine or the tooling made it."""
        function = self._current
        if function is None:
            return
        credentials = getattr(client._request_signer, "_credentials", None)
        if credentials is None or credentials.access_key != FUNCTION_ACCESS_KEY:
            return
        self.calls.append(AwsCall(function, client.meta.service_model.service_name, operation, dict(params)))

    def hook_botocore(self) -> None:
        """Record every API call of every botocore client in the process (one patch of BaseClient)."""
        if self._hooked:
            return
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        runtime = self

        def _make_api_call(client: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
            runtime._note(client, operation_name, api_params)
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = _make_api_call
        self._hooked = True

    # -- the moto patch -------------------------------------------------------------------------------
    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            return
        self._original = LambdaFunction._invoke_lambda
        runtime = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime.invoke(fn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        self.hook_botocore()

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Import the handler, call it, and answer the way the Lambda service does."""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        module_name, _, attribute = fn.handler.rpartition(".")
        context = LambdaContext(
            function_name=fn.function_name,
            memory_limit_in_mb=int(fn.memory_size),
            invoked_function_arn=fn.function_arn,
            timeout_seconds=int(fn.timeout),
        )
        variables = {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            **fn.environment_vars,
        }
        self.events.append((fn.function_name, event))
        crash = self._crash_for(fn.function_name, event)
        if crash is not None and not crash.after_handler:
            self.invocations.append((fn.function_name, True))
            return json.dumps({"errorMessage": crash.message, "errorType": crash.error_type}), True, ""
        with self.function_environment(fn.function_name, variables):
            try:
                handler = getattr(importlib.import_module(module_name), attribute)
                result = handler(event, context)
                if crash is not None:
                    raise InjectedCrash(crash)
            except InjectedCrash as injected:
                self.invocations.append((fn.function_name, True))
                crashed = {"errorMessage": injected.crash.message, "errorType": injected.crash.error_type}
                return json.dumps(crashed), True, ""
            except Exception as error:
                self.invocations.append((fn.function_name, True))
                payload = {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                }
                return json.dumps(payload), True, ""
        self.invocations.append((fn.function_name, False))
        return json.dumps(result, default=str), False, ""


RUNTIME = InProcessLambdaRuntime()
