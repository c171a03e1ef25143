"""Fault injection: make the emulator misbehave the way api.openai.com does, on purpose and reproducibly.

Retries, backoff and error handling are the code paths a happy-path fake never exercises; a
`FaultPlan` lets a test say "the next two job creations get a 429" or a load test say "5% of
calls fail with a 500", and get the same sequence of failures on every run (seeded random).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from labeltune.emulator.errors import default_error_body

_API_PREFIX = "/v1"


def _normalise_prefix(path_prefix: str) -> str:
    """Accept "/fine_tuning/jobs" (SDK-relative) as well as "/v1/fine_tuning/jobs" (wire path)."""
    prefix = "/" + path_prefix.lstrip("/")
    if prefix == _API_PREFIX or prefix.startswith(_API_PREFIX + "/"):
        return prefix
    return _API_PREFIX + prefix


@dataclass(frozen=True)
class InjectedFault:
    """What the server sends instead of the real response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    after_processing: bool = False


@dataclass
class _Rule:
    remaining: int
    status: int
    path_prefix: str
    method: str | None
    message: str | None
    retry_after_seconds: float | None
    after_processing: bool

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and path.startswith(self.path_prefix)
            and (self.method is None or self.method == method.upper())
        )


@dataclass
class FaultPlan:
    """Errors and latency to inject; safe to mutate from a test while the server is serving.

    - `latency_seconds`: added before every response (exercise client timeouts, slow polling).
    - `error_rate` / `error_status` / `error_path_prefix`: each matching request fails with that
      probability, drawn from `random.Random(seed)` so a load test sees the same failures every run.
    - `fail_next(...)`: queue exactly n failures for matching requests, consumed in order.
    - `retry_after_seconds`: sent with 429s as `retry-after-ms` (exact, preferred by the SDK) and
      `retry-after` (whole seconds, rounded up), as api.openai.com does.
    """

    latency_seconds: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    error_path_prefix: str = "/v1/"
    seed: int = 0
    retry_after_seconds: float = 0.05
    injected: int = field(default=0, init=False)
    _rules: list[_Rule] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate_status(self.error_status)
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        self._random = random.Random(self.seed)

    @staticmethod
    def _validate_status(status: int) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), got {status}")

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 429,
        path_prefix: str = "/v1/",
        method: str | None = None,
        message: str | None = None,
        retry_after_seconds: float | None = None,
        after_processing: bool = False,
    ) -> FaultPlan:
        """Make the next `n` requests whose path starts with `path_prefix` (and method, if given) fail.

        With `after_processing=True` the request still takes effect and only the response is lost,
        like a timeout or 5xx after OpenAI accepted a `jobs.create`: the SDK's retry then creates a
        second job, because the SDK sends no idempotency key.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        self._validate_status(status)
        rule = _Rule(
            remaining=n,
            status=status,
            path_prefix=_normalise_prefix(path_prefix),
            method=method.upper() if method else None,
            message=message,
            retry_after_seconds=retry_after_seconds,
            after_processing=after_processing,
        )
        with self._lock:
            self._rules.append(rule)
        return self

    def pending(self) -> int:
        """How many queued `fail_next` failures are still to be served."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def clear(self) -> None:
        """Drop queued failures and switch off random errors and latency."""
        with self._lock:
            self._rules.clear()
            self.error_rate = 0.0
            self.latency_seconds = 0.0

    def decide(self, method: str, path: str) -> InjectedFault | None:
        """Consume and return the fault for this request, if any (called once per request)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    self._rules = [r for r in self._rules if r.remaining > 0]
                    self.injected += 1
                    fault = self._fault(rule.status, rule.message, rule.retry_after_seconds)
                    return replace(fault, after_processing=rule.after_processing)
            rate = self.error_rate
            matching = rate > 0 and path.startswith(_normalise_prefix(self.error_path_prefix))
            if matching and self._random.random() < rate:
                self.injected += 1
                return self._fault(self.error_status, None, None)
        return None

    def _fault(self, status: int, message: str | None, retry_after: float | None) -> InjectedFault:
        headers: dict[str, str] = {}
        if status == 429:
            seconds = self.retry_after_seconds if retry_after is None else retry_after
            headers["retry-after"] = str(max(0, math.ceil(seconds)))
            headers["retry-after-ms"] = str(max(0, round(seconds * 1000)))
        return InjectedFault(status=status, body=default_error_body(status, message), headers=headers)
