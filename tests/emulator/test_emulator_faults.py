"""Fault injection, auth and routing errors, as the real `openai` SDK experiences them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from openai import OpenAI

from labeltune_tools.emulator import FaultPlan, OpenAIEmulator


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


# -- stalls --------------------------------------------------------------------------------------


def test_stalled_create_times_out_yet_the_job_is_created(
    emulator: OpenAIEmulator, client: OpenAI, upload, training_bytes
) -> None:
    """api.openai.com can finish a `jobs.create` after the client gave up: a timeout is not a "no"."""
    file_id = upload(training_bytes)
    emulator.faults.stall_next(1, seconds=0.8, method="POST", path_prefix="/fine_tuning/jobs")
    impatient = client.with_options(timeout=0.2, max_retries=0)

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        impatient.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id, metadata={"run": "r1"})

    assert list(client.fine_tuning.jobs.list()) == []  # still held; a GET is not stalled
    jobs: list[Any] = []
    while not jobs and time.monotonic() - started < 5:
        jobs = list(client.fine_tuning.jobs.list(metadata={"run": "r1"}))
        time.sleep(0.02)
    assert len(jobs) == 1 and jobs[0].training_file == file_id
    assert time.monotonic() - started >= 0.8
    assert (emulator.faults.stalled, emulator.faults.injected, emulator.faults.pending()) == (1, 1, 0)
    assert [e.status for e in emulator.exchanges if e.method == "POST" and "fine_tuning" in e.path] == [200]


def test_sdk_retry_after_a_stall_makes_a_second_job(emulator: OpenAIEmulator, client: OpenAI, upload, training_bytes):
    """The SDK retries the timed-out create and both land: why the pipeline looks its job up by metadata."""
    file_id = upload(training_bytes)
    emulator.faults.stall_next(1, seconds=0.4, method="POST", path_prefix="/v1/fine_tuning/jobs")

    created = client.with_options(timeout=0.2, max_retries=1).fine_tuning.jobs.create(
        model="gpt-4.1-mini", training_file=file_id, metadata={"run": "r2"}
    )

    deadline = time.monotonic() + 5
    while len(jobs := list(client.fine_tuning.jobs.list(metadata={"run": "r2"}))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(jobs) == 2 and created.id in {job.id for job in jobs}


def test_stalls_are_consumed_in_order_by_concurrent_requests(emulator: OpenAIEmulator) -> None:
    emulator.faults.stall_next(3, seconds=0.4, path_prefix="/models")

    def timed(_: int) -> float:
        with OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as sdk:
            started = time.monotonic()
            sdk.models.list()
            return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=8) as pool:
        durations = list(pool.map(timed, range(8)))

    assert sum(d >= 0.4 for d in durations) == 3
    assert (emulator.faults.stalled, emulator.faults.pending()) == (3, 0)


def test_queued_failures_and_stalls_share_one_queue(emulator: OpenAIEmulator, client: OpenAI) -> None:
    emulator.faults.fail_next(1, status=500, path_prefix="/models").stall_next(1, seconds=0.3, path_prefix="/models")
    no_retry = client.with_options(max_retries=0)

    with pytest.raises(openai.InternalServerError):
        no_retry.models.list()
    started = time.monotonic()
    assert no_retry.models.list().data
    assert time.monotonic() - started >= 0.3
    assert (emulator.faults.injected, emulator.faults.stalled) == (2, 1)


def test_stop_releases_a_stalled_request_unprocessed() -> None:
    """A long stall neither holds up `stop()` nor lands in a stopped emulator."""
    emulator = OpenAIEmulator().start()
    with OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0, timeout=0.2) as sdk:
        emulator.faults.stall_next(1, seconds=30, method="POST", path_prefix="/files")
        with pytest.raises(openai.APITimeoutError):
            sdk.files.create(file=("f.jsonl", b"{}\n"), purpose="fine-tune")
    started = time.monotonic()
    emulator.stop()
    time.sleep(0.1)  # let the woken handler thread finish

    assert time.monotonic() - started < 2
    assert emulator.files() == []


# -- error codes ---------------------------------------------------------------------------------


def test_insufficient_quota_is_a_rate_limit_error_with_its_own_code(emulator: OpenAIEmulator, client: OpenAI):
    emulator.faults.fail_next(1, code="insufficient_quota", path_prefix="/fine_tuning/jobs")

    with pytest.raises(openai.RateLimitError) as raised:
        client.with_options(max_retries=0).fine_tuning.jobs.list()

    error = raised.value
    assert (error.status_code, error.code, error.type, error.param) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
        None,
    )
    assert error.message.startswith("Error code: 429")
    body: Any = error.body
    assert body["message"].startswith("You exceeded your current quota, please check your plan and billing details.")


def test_sdk_retries_insufficient_quota_like_any_429(emulator: OpenAIEmulator, client: OpenAI) -> None:
    """No credit is not transient, but the SDK cannot tell: queue max_retries + 1 to make it stick."""
    emulator.faults.fail_next(3, code="insufficient_quota")

    with pytest.raises(openai.RateLimitError) as raised:
        client.models.list()  # max_retries=2 (default)

    assert raised.value.code == "insufficient_quota"
    assert _statuses(emulator, "/v1/models") == [429, 429, 429]
    assert client.models.list().data


def test_other_codes_keep_the_status_type(emulator: OpenAIEmulator, client: OpenAI) -> None:
    emulator.faults.fail_next(1, status=503, code="slow_down", message="Please reduce your request rate.")

    with pytest.raises(openai.InternalServerError) as raised:
        client.with_options(max_retries=0).models.list()

    assert (raised.value.code, raised.value.type) == ("slow_down", "server_error")
    assert raised.value.body == {
        "message": "Please reduce your request rate.",
        "type": "server_error",
        "param": None,
        "code": "slow_down",
    }


# -- random faults for load tests ----------------------------------------------------------------


def _outcomes(plan: FaultPlan, calls: int = 40, timeout: float = 0.2) -> list[str]:
    """What each of `calls` sequential requests met: ok, a status, or a client timeout."""
    with (
        OpenAIEmulator(faults=plan) as emulator,
        OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0, timeout=timeout) as sdk,
    ):
        outcomes = []
        for _ in range(calls):
            try:
                sdk.models.retrieve("gpt-4.1")
                outcomes.append("ok")
            except openai.APITimeoutError:
                outcomes.append("timeout")
            except openai.APIStatusError as error:
                outcomes.append(str(error.status_code))
        return outcomes


def _mixed(seed: int) -> FaultPlan:
    return FaultPlan(error_rate=0.3, error_statuses=(429, 500, 503), stall_rate=0.1, stall_seconds=0.5, seed=seed)


def test_mixed_random_faults_are_seeded_and_reproducible() -> None:
    first = _outcomes(_mixed(42))
    again = _outcomes(_mixed(42))
    other = _outcomes(_mixed(7))

    assert first == again
    assert first != other
    assert {"ok", "429", "500", "503", "timeout"} <= set(first)
    # One draw per request: the statuses and stalls do not move which requests fail.
    assert [o in ("429", "500", "503") for o in first] == _failure_pattern(FaultPlan(error_rate=0.3, seed=42))


def test_random_stalls_count_and_still_take_effect(training_bytes: bytes) -> None:
    plan = FaultPlan(stall_rate=1.0, stall_seconds=0.3, error_path_prefix="/v1/files", seed=1)
    with (
        OpenAIEmulator(faults=plan) as emulator,
        OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0, timeout=0.1) as sdk,
    ):
        with pytest.raises(openai.APITimeoutError):
            sdk.files.create(file=("f.jsonl", training_bytes), purpose="fine-tune")
        deadline = time.monotonic() + 5
        while not emulator.files() and time.monotonic() < deadline:
            time.sleep(0.02)

        assert len(emulator.files()) == 1
        assert sdk.models.list().data  # outside error_path_prefix: never stalled
        assert (plan.stalled, plan.injected) == (1, 1)


def test_random_fault_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        FaultPlan(error_rate=0.8, stall_rate=0.3)
    with pytest.raises(ValueError):
        FaultPlan(error_statuses=(429, 200))
    with pytest.raises(ValueError):
        FaultPlan(stall_seconds=-1)
    with pytest.raises(ValueError):
        FaultPlan().stall_next(1, seconds=float("nan"))
    with pytest.raises(ValueError):
        FaultPlan().stall_next(0, seconds=1)
