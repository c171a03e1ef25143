"""Fault injection: make the emulator misbehave the way api.openai.com does, on purpose and reproducibly.

Retries, backoff and error handling are the code paths a happy-path fake never exercises; a
`FaultPlan` lets a test say "the next two job creations get a 429", "the next job creation hangs for
40 s and then goes through anyway" or a load test say "5% of calls fail with a 429, 500 or 503 and
1% outlast the client timeout", and get the same sequence of faults on every run (seeded random).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from labeltune_tools.emulator.errors import default_error_body

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


@dataclass(frozen=True)
class Stall:
    """Hold the request this long, then process it normally (the client may have given up by then)."""

    seconds: float


@dataclass
class _Rule:
    remaining: int
    path_prefix: str
    method: str | None
    status: int = 429
    message: str | None = None
    code: str | None = None
    retry_after_seconds: float | None = None
    after_processing: bool = False
    stall_seconds: float | None = None  # set: a stall rule, not a failure

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and path.startswith(self.path_prefix)
            and (self.method is None or self.method == method.upper())
        )


@dataclass
class FaultPlan:
    """Errors, stalls and latency to inject; safe to mutate from a test while the server is serving.

    - `latency_seconds`: added before every response (exercise client timeouts, slow polling).
    - `error_rate` / `error_status` / `error_statuses` / `error_path_prefix`: each matching request
      fails with that probability, with `error_status`, or one of `error_statuses` when given; drawn
      from `random.Random(seed)` so a load test sees the same failures every run.
    - `stall_rate` / `stall_seconds`: each matching request (same `error_path_prefix`) is held
      `stall_seconds` and then processed, with that probability (a stall longer than the client's
      timeout is a timeout whose request still took effect). Same seeded draw as `error_rate`: one
      number per request decides error, stall or nothing, so adding stalls or statuses does not move
      which requests fail.
    - `fail_next(...)` / `stall_next(...)`: queue exactly n failures or stalls for matching requests;
      one queue, consumed in order, each request takes the first rule it matches.
    - `retry_after_seconds`: sent with 429s as `retry-after-ms` (exact, preferred by the SDK) and
      `retry-after` (whole seconds, rounded up), as api.openai.com does.
    - `injected` counts every fault served (failures and stalls), `stalled` the stalls alone.
    """

    latency_seconds: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    error_path_prefix: str = "/v1/"
    seed: int = 0
    retry_after_seconds: float = 0.05
    error_statuses: tuple[int, ...] = ()
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    injected: int = field(default=0, init=False)
    stalled: int = field(default=0, init=False)
    _rules: list[_Rule] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate_status(self.error_status)
        self.error_statuses = tuple(self.error_statuses)
        for status in self.error_statuses:
            self._validate_status(status)
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not 0.0 <= self.stall_rate <= 1.0 or self.error_rate + self.stall_rate > 1.0:
            raise ValueError("stall_rate must be between 0 and 1, and error_rate + stall_rate at most 1")
        self._validate_seconds(self.stall_seconds)
        self._random = random.Random(self.seed)

    @staticmethod
    def _validate_status(status: int) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), got {status}")

    @staticmethod
    def _validate_seconds(seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"stall seconds must be a finite number >= 0, got {seconds}")

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
        code: str | None = None,
    ) -> FaultPlan:
        """Make the next `n` requests whose path starts with `path_prefix` (and method, if given) fail.

        With `after_processing=True` the request still takes effect and only the response is lost,
        like a timeout or 5xx after OpenAI accepted a `jobs.create`: the SDK's retry then creates a
        second job, because the SDK sends no idempotency key.

        `code` sets the error body's `code`; a code OpenAI gives its own type and message also sets
        those: `code="insufficient_quota"` (status 429) is the no-credit error, which the SDK raises as
        `RateLimitError` but retries like any 429, so queue `max_retries + 1` of them to make it stick.
        """
        self._check_n(n)
        self._validate_status(status)
        self._enqueue(
            _Rule(
                remaining=n,
                path_prefix=_normalise_prefix(path_prefix),
                method=method.upper() if method else None,
                status=status,
                message=message,
                code=code,
                retry_after_seconds=retry_after_seconds,
                after_processing=after_processing,
            )
        )
        return self

    def stall_next(
        self, n: int = 1, *, seconds: float, path_prefix: str = "/v1/", method: str | None = None
    ) -> FaultPlan:
        """Hold the next `n` matching requests for `seconds`, then process them normally.

        This is api.openai.com completing a `POST /v1/fine_tuning/jobs` after the client timed out:
        the client sees `APITimeoutError` (and the SDK retries), yet the job exists.
        """
        self._check_n(n)
        self._validate_seconds(seconds)
        self._enqueue(
            _Rule(
                remaining=n,
                path_prefix=_normalise_prefix(path_prefix),
                method=method.upper() if method else None,
                stall_seconds=seconds,
            )
        )
        return self

    @staticmethod
    def _check_n(n: int) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")

    def _enqueue(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def pending(self) -> int:
        """How many queued `fail_next` failures and `stall_next` stalls are still to be served."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def clear(self) -> None:
        """Drop queued faults and switch off random errors, random stalls and latency."""
        with self._lock:
            self._rules.clear()
            self.error_rate = 0.0
            self.stall_rate = 0.0
            self.latency_seconds = 0.0

    def decide(self, method: str, path: str) -> InjectedFault | Stall | None:
        """Consume and return the fault for this request, if any (called once per request)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    self._rules = [r for r in self._rules if r.remaining > 0]
                    self.injected += 1
                    if rule.stall_seconds is not None:
                        self.stalled += 1
                        return Stall(rule.stall_seconds)
                    fault = self._fault(rule.status, rule.message, rule.retry_after_seconds, rule.code)
                    return replace(fault, after_processing=rule.after_processing)
            error_rate, stall_rate = self.error_rate, self.stall_rate
            if error_rate <= 0 and stall_rate <= 0:
                return None
            if not path.startswith(_normalise_prefix(self.error_path_prefix)):
                return None
            draw = self._random.random()
            if draw < error_rate:
                self.injected += 1
                statuses = self.error_statuses or (self.error_status,)
                # The same draw, rescaled to [0, 1), picks the status: no extra draw shifts the sequence.
                status = statuses[min(len(statuses) - 1, int(draw / error_rate * len(statuses)))]
                return self._fault(status, None, None, None)
            if draw < error_rate + stall_rate:
                self.injected += 1
                self.stalled += 1
                return Stall(self.stall_seconds)
        return None

    def _fault(self, status: int, message: str | None, retry_after: float | None, code: str | None) -> InjectedFault:
        headers: dict[str, str] = {}
        if status == 429:
            seconds = self.retry_after_seconds if retry_after is None else retry_after
            headers["retry-after"] = str(max(0, math.ceil(seconds)))
            headers["retry-after-ms"] = str(max(0, round(seconds * 1000)))
        return InjectedFault(status=status, body=default_error_body(status, message, code), headers=headers)
