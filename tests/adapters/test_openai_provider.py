"""The OpenAI adapter through the real SDK against the emulator: nothing duplicated, nothing left behind,
and the provider's errors sorted into those worth retrying and those that are not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from openai import OpenAI

from labeltune.adapters.openai_provider import OpenAIFineTuning, job_suffix
from labeltune.domain.models import JobState
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import ProviderRefused, TransientError
from labeltune_tools.emulator import OpenAIEmulator

RUN = "run-0123456789abcdef01234567"
URI = "s3://bucket/runs/x/dataset/train.jsonl"  # OpenAI keeps its own copy: the adapter uploads the lines
AUTO = Hyperparameters()
BASE = "gpt-4.1-mini-2025-04-14"
LINES = [
    json.dumps(
        {
            "messages": [
                {"role": "system", "content": "Summarise."},
                {"role": "user", "content": f"chat number {i} about a late parcel"},
                {"role": "assistant", "content": f"Customer {i} reports a late parcel."},
            ]
        }
    )
    for i in range(12)
]


@pytest.fixture
def emulator() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(job_duration_seconds=60) as running:
        yield running


@pytest.fixture
def provider(emulator: OpenAIEmulator) -> Iterator[OpenAIFineTuning]:
    with OpenAI(base_url=emulator.base_url, api_key="sk-test", timeout=1.0, max_retries=2) as client:
        yield OpenAIFineTuning(client, create_timeout_seconds=1.0)


def create(provider: OpenAIFineTuning, run_id: str = RUN) -> str:
    train = provider.stage_training_file(run_id, "train", URI, LINES)
    job = provider.create_job(
        run_id=run_id, base_model=BASE, training_file=train, validation_file=None, hyperparameters=AUTO
    )
    return job.job_id


def test_a_retried_upload_reuses_the_file_instead_of_adding_a_copy(
    provider: OpenAIFineTuning, emulator: OpenAIEmulator
) -> None:
    first = provider.stage_training_file(RUN, "train", URI, LINES)
    again = provider.stage_training_file(RUN, "train", URI, LINES)
    assert first == again
    assert [f["filename"] for f in emulator.files(purpose="fine-tune")] == [f"{RUN}-train.jsonl"]


def test_jobs_are_found_by_run_id_oldest_first(provider: OpenAIFineTuning) -> None:
    first, second = create(provider), create(provider)
    create(provider, "run-other")
    assert [job.job_id for job in provider.find_jobs(RUN)] == [first, second]


def test_a_create_the_provider_completes_after_the_client_timed_out_is_found_later(
    provider: OpenAIFineTuning, emulator: OpenAIEmulator
) -> None:
    train = provider.stage_training_file(RUN, "train", URI, LINES)
    emulator.faults.stall_next(1, seconds=2.0, method="POST", path_prefix="/fine_tuning/jobs")
    with pytest.raises(TransientError, match="Timeout"):
        provider.create_job(
            run_id=RUN, base_model=BASE, training_file=train, validation_file=None, hyperparameters=AUTO
        )
    assert provider.find_jobs(RUN) == []  # not yet: the provider is still holding the request
    deadline = time.monotonic() + 10
    while not provider.find_jobs(RUN) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(provider.find_jobs(RUN)) == 1  # it landed: the SDK did not post it a second time


def test_a_used_up_quota_is_not_retried_as_transient(provider: OpenAIFineTuning, emulator: OpenAIEmulator) -> None:
    emulator.faults.fail_next(3, status=429, code="insufficient_quota", path_prefix="/fine_tuning/jobs")
    with pytest.raises(ProviderRefused, match="insufficient_quota"):
        provider.find_jobs(RUN)


def test_rate_limits_and_server_errors_that_outlast_the_sdk_are_transient(
    provider: OpenAIFineTuning, emulator: OpenAIEmulator
) -> None:
    emulator.faults.fail_next(3, status=429, path_prefix="/fine_tuning/jobs", retry_after_seconds=0.01)
    with pytest.raises(TransientError):
        provider.find_jobs(RUN)
    emulator.faults.fail_next(3, status=500, path_prefix="/fine_tuning/jobs")
    with pytest.raises(TransientError):
        provider.find_jobs(RUN)


def test_cancelling_and_deleting_leave_nothing_of_the_run(provider: OpenAIFineTuning, emulator: OpenAIEmulator) -> None:
    job_id = create(provider)
    provider.stage_training_file(RUN, "validation", URI, LINES[:3])
    other = provider.stage_training_file("run-other", "train", URI, LINES)
    assert provider.cancel_job(job_id).state is JobState.FAILED
    assert provider.delete_run_files(RUN) == 2
    assert provider.delete_run_files(RUN) == 0  # a retried cleanup finds nothing more
    assert [f["id"] for f in emulator.files(purpose="fine-tune")] == [other]


def test_the_job_names_its_run_and_sends_only_openai_hyperparameters(
    provider: OpenAIFineTuning, emulator: OpenAIEmulator
) -> None:
    train = provider.stage_training_file(RUN, "train", URI, LINES)
    job = provider.create_job(
        run_id=RUN,
        base_model=BASE,
        training_file=train,
        validation_file=None,
        hyperparameters=Hyperparameters(n_epochs=2),
    )
    assert job.run_id == RUN and provider.get_job(job.job_id).run_id == RUN
    created = [e.json() for e in emulator.exchanges if e.method == "POST" and e.path.endswith("/fine_tuning/jobs")]
    assert created[-1]["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2


def test_suffix_is_short_and_safe() -> None:
    suffix = job_suffix("run-ABC_def.x" + "9" * 80)
    assert suffix == ("run-abc-def-x" + "9" * 80)[:40]
    assert 1 <= len(job_suffix(RUN)) <= 64
