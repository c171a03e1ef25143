"""Fault injection, auth and routing errors, as the real `openai` SDK experiences them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from openai import OpenAI

from labeltune.emulator import FaultPlan, OpenAIEmulator


def _statuses(emulator: OpenAIEmulator, path_prefix: str) -> list[int]:
    return [e.status for e in emulator.exchanges if e.path.startswith(path_prefix)]


def test_429_with_retry_after_is_retried_by_the_sdk(emulator, client: OpenAI, upload, training_bytes) -> None:
    file_id = upload(training_bytes)
    emulator.faults.fail_next(2, status=429, path_prefix="/v1/fine_tuning/jobs")

    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id)  # max_retries=2 (default)

    assert job.status == "validating_files"
    assert _statuses(emulator, "/v1/fine_tuning/jobs") == [429, 429, 200]
    limited = [e for e in emulator.exchanges if e.status == 429]
    assert all(e.headers["retry-after"] == "1" and e.headers["retry-after-ms"] == "50" for e in limited)
    assert limited[0].json()["error"]["code"] == "rate_limit_exceeded"
    assert len(list(client.fine_tuning.jobs.list())) == 1
    assert emulator.faults.pending() == 0 and emulator.faults.injected == 2


def test_sdk_waits_as_long_as_retry_after_says(emulator, client: OpenAI) -> None:
    emulator.faults.fail_next(1, status=429, path_prefix="/models", retry_after_seconds=0.4)

    started = time.monotonic()
    client.models.list()

    assert time.monotonic() - started >= 0.4
    assert _statuses(emulator, "/v1/models") == [429, 200]


def test_500_is_retried_by_the_sdk(emulator, client: OpenAI) -> None:
    emulator.faults.fail_next(1, status=500, path_prefix="/v1/models")

    assert client.with_options(max_retries=1).models.retrieve("gpt-4.1-mini").id == "gpt-4.1-mini"
    assert _statuses(emulator, "/v1/models") == [500, 200]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError), (503, openai.InternalServerError)],
)
def test_without_retries_faults_raise(emulator, client: OpenAI, status: int, error_class) -> None:
    emulator.faults.fail_next(1, status=status)

    with pytest.raises(error_class) as raised:
        client.with_options(max_retries=0).models.list()

    assert raised.value.status_code == status
    assert raised.value.body["type"] in ("requests", "server_error")
    assert client.models.list().data  # the fault was consumed


def test_fault_after_processing_shows_why_creates_need_a_lookup(emulator, client: OpenAI, upload, training_bytes):
    """The job is created, the response is lost, the SDK retries: two jobs. Hence metadata + jobs.list."""
    file_id = upload(training_bytes)
    emulator.faults.fail_next(1, status=500, path_prefix="/fine_tuning/jobs", method="POST", after_processing=True)

    client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id, metadata={"run": "r1"})

    assert len(list(client.fine_tuning.jobs.list(metadata={"run": "r1"}))) == 2


def test_faults_match_method_and_path(emulator, client: OpenAI, upload, training_bytes) -> None:
    emulator.faults.fail_next(1, status=500, path_prefix="/fine_tuning/jobs", method="POST")
    no_retry = client.with_options(max_retries=0)

    assert list(no_retry.fine_tuning.jobs.list()) == []  # GET: not matched
    file_id = upload(training_bytes)  # other path: not matched
    with pytest.raises(openai.InternalServerError):
        no_retry.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id)


def _failure_pattern(plan: FaultPlan, calls: int = 40) -> list[bool]:
    with OpenAIEmulator(faults=plan) as emulator, OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as sdk:
        pattern = []
        for _ in range(calls):
            try:
                sdk.models.retrieve("gpt-4.1")
                pattern.append(False)
            except openai.InternalServerError:
                pattern.append(True)
        return pattern


def test_error_rate_is_seeded_and_reproducible() -> None:
    first = _failure_pattern(FaultPlan(error_rate=0.3, seed=42))
    again = _failure_pattern(FaultPlan(error_rate=0.3, seed=42))
    other = _failure_pattern(FaultPlan(error_rate=0.3, seed=7))

    assert first == again
    assert first != other
    assert 4 <= sum(first) <= 20


def test_latency_triggers_client_timeout(emulator, client: OpenAI) -> None:
    emulator.faults.latency_seconds = 0.3

    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.1, max_retries=0).models.list()

    emulator.faults.clear()
    assert client.with_options(timeout=0.1, max_retries=0).models.list().data


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Token abc", ""])
def test_requests_need_a_bearer_token(client: OpenAI, authorization: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        client.models.list(extra_headers={"Authorization": authorization})


def test_unknown_route_is_openai_style_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.post("/fine_tuning/jobs/ftjob-x/pause", cast_to=object)

    body: Any = raised.value.body
    assert body["message"] == "Invalid URL (POST /v1/fine_tuning/jobs/ftjob-x/pause)"


def test_fault_plan_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        FaultPlan(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultPlan().fail_next(1, status=200)


def test_stop_frees_the_port_and_is_idempotent() -> None:
    emulator = OpenAIEmulator().start()
    port = emulator.port
    with OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as sdk:
        assert sdk.models.list().data
        emulator.stop()
        emulator.stop()
        with pytest.raises(openai.APIConnectionError):
            sdk.models.list()
    with OpenAIEmulator(port=port) as again:
        assert again.port == port


def test_concurrent_clients_with_random_errors_all_complete(emulator, upload, training_bytes) -> None:
    """Under a 20% error rate, SDK retries still get every call of 8 threads through, with no lost jobs."""
    file_id = upload(training_bytes)
    emulator.faults.error_rate = 0.2
    emulator.faults.error_status = 429  # retry-after-ms keeps the SDK's backoff short
    emulator.faults.error_path_prefix = "/v1/fine_tuning"

    def work(worker: int) -> list[str]:
        with OpenAI(base_url=emulator.base_url, api_key="k", max_retries=6) as sdk:
            return [
                sdk.fine_tuning.jobs.create(
                    model="gpt-4.1-mini", training_file=file_id, metadata={"worker": str(worker)}
                ).id
                for _ in range(5)
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = [job_id for ids in pool.map(work, range(8)) for job_id in ids]

    emulator.faults.error_rate = 0.0
    with OpenAI(base_url=emulator.base_url, api_key="k") as sdk:
        listed = [job.id for job in sdk.fine_tuning.jobs.list(limit=100)]
    assert emulator.faults.injected > 0
    assert sorted(listed) == sorted(created) and len(set(created)) == 40
