"""Fault injection for the Bedrock emulator, by operation name, with Bedrock's error codes and statuses.

Mirrors `labeltune_tools.emulator.FaultPlan` (queued next-n failures and stalls, seeded random faults,
latency) but matches on the operation boto3 calls ("CreateModelCustomizationJob", "Converse") rather
than on a path prefix, and answers in the AWS shape: status, `x-amzn-ErrorType: <Code>`, `{"message"}`.
botocore retries 429/500/503 (and ThrottlingException) on its own, so a test that wants to see a
fault queues more than the client's `max_attempts`, or gives the client `retries={"max_attempts": 1}`.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field

from labeltune_tools.bedrock_emulator.errors import DEFAULT_MESSAGES, BedrockError


@dataclass(frozen=True)
class InjectedFault:
    """What the server sends instead of the real response (after processing it, if `after_processing`)."""

    error: BedrockError
    after_processing: bool = False


@dataclass(frozen=True)
class Stall:
    """Hold the request this long, then process it normally (the client may have given up by then)."""

    seconds: float


@dataclass
class _Rule:
    remaining: int
    operation: str | None
    service: str | None
    code: str = "ThrottlingException"
    status: int | None = None
    message: str | None = None
    after_processing: bool = False
    stall_seconds: float | None = None

    def matches(self, service: str, operation: str) -> bool:
        return (
            self.remaining > 0
            and (self.operation is None or self.operation == operation)
            and (self.service is None or self.service == service)
        )


def make_error(code: str, message: str | None = None, status: int | None = None) -> BedrockError:
    return BedrockError(
        code, message or DEFAULT_MESSAGES.get(code, f"{code} (injected by the emulator)."), status=status
    )


@dataclass
class BedrockFaultPlan:
    """Errors, stalls and latency to inject; safe to change from a test while the server runs.

    - `latency_seconds`: added before every response.
    - `error_rate` / `error_codes`: each request (of `operations`, or of every operation when empty)
      fails with that probability, with a code picked from `error_codes` by the same seeded draw.
    - `stall_rate` / `stall_seconds`: held that long and then processed, with that probability.
    """

    latency_seconds: float = 0.0
    error_rate: float = 0.0
    error_codes: tuple[str, ...] = ("ThrottlingException",)
    operations: tuple[str, ...] = ()
    seed: int = 0
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    injected: int = field(default=0, init=False)
    stalled: int = field(default=0, init=False)
    _rules: list[_Rule] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.error_codes = tuple(self.error_codes)
        self.operations = tuple(self.operations)
        if not self.error_codes:
            raise ValueError("error_codes must name at least one error code")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not 0.0 <= self.stall_rate <= 1.0 or self.error_rate + self.stall_rate > 1.0:
            raise ValueError("stall_rate must be between 0 and 1, and error_rate + stall_rate at most 1")
        self._check_seconds(self.stall_seconds)
        self._random = random.Random(self.seed)

    @staticmethod
    def _check_seconds(seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"stall seconds must be a finite number >= 0, got {seconds}")

    @staticmethod
    def _check_n(n: int) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")

    def fail_next(
        self,
        n: int = 1,
        *,
        error: str = "ThrottlingException",
        operation: str | None = None,
        service: str | None = None,
        message: str | None = None,
        status: int | None = None,
        after_processing: bool = False,
    ) -> BedrockFaultPlan:
        """The next `n` requests for `operation` (any, if None) fail with `error` (its modelled status).

        `after_processing=True` applies the request and loses the response, like a timeout after Bedrock
        accepted a `CreateModelCustomizationJob`: botocore retries with the same `clientRequestToken`,
        and the emulator answers the retry with the job it already made.
        """
        self._check_n(n)
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), got {status}")
        rule = _Rule(n, operation, service, error, status, message, after_processing)
        with self._lock:
            self._rules.append(rule)
        return self

    def stall_next(
        self, n: int = 1, *, seconds: float, operation: str | None = None, service: str | None = None
    ) -> BedrockFaultPlan:
        """Hold the next `n` matching requests `seconds`, then process them normally."""
        self._check_n(n)
        self._check_seconds(seconds)
        with self._lock:
            self._rules.append(_Rule(n, operation, service, stall_seconds=seconds))
        return self

    def pending(self) -> int:
        """Queued failures and stalls not served yet."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def clear(self) -> None:
        """Drop queued faults and switch off random errors, random stalls and latency."""
        with self._lock:
            self._rules.clear()
            self.error_rate = 0.0
            self.stall_rate = 0.0
            self.latency_seconds = 0.0

    def decide(self, service: str, operation: str) -> InjectedFault | Stall | None:
        """Consume and return the fault for this request, if any (called once per routed request)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, operation):
                    rule.remaining -= 1
                    self._rules = [r for r in self._rules if r.remaining > 0]
                    self.injected += 1
                    if rule.stall_seconds is not None:
                        self.stalled += 1
                        return Stall(rule.stall_seconds)
                    return InjectedFault(make_error(rule.code, rule.message, rule.status), rule.after_processing)
            error_rate, stall_rate = self.error_rate, self.stall_rate
            if error_rate <= 0 and stall_rate <= 0:
                return None
            if self.operations and operation not in self.operations:
                return None
            draw = self._random.random()
            if draw < error_rate:
                self.injected += 1
                codes = self.error_codes
                code = codes[min(len(codes) - 1, int(draw / error_rate * len(codes)))]
                return InjectedFault(make_error(code))
            if draw < error_rate + stall_rate:
                self.injected += 1
                self.stalled += 1
                return Stall(self.stall_seconds)
        return None
