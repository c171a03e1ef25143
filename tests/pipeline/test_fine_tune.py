"""Starting a fine-tuning job exactly once per run (there is no idempotency key), and checking it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from labeltune.clock import parse_iso
from labeltune.domain.models import JobState
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import JobCreatePending, TransientError
from labeltune.pipeline.fine_tune import CREATE_SETTLE, check_fine_tune, start_fine_tune
from labeltune.pipeline.prepare import PreparedDataset, dataset_key
from tests.fakes import InMemoryObjectStore, InMemoryRunStore, ScriptedFineTuneProvider

RUN = "run-0123456789abcdef01234567"
PROJECT = "proj-1"
BASE = "gpt-4.1-mini-2025-04-14"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = parse_iso("2026-11-26T10:00:00+00:00")

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


def line(n: int) -> str:
    messages = [
        {"role": "system", "content": "Summarise."},
        {"role": "user", "content": f"chat {n}"},
        {"role": "assistant", "content": f"summary {n}"},
    ]
    return json.dumps({"messages": messages})


TRAIN = [line(n) for n in range(12)]
VALIDATION = [line(n) for n in range(100, 103)]


def make_dataset(store: InMemoryObjectStore, validation: list[str] = VALIDATION) -> PreparedDataset:
    keys = {name: dataset_key(RUN, f"{name}.jsonl") for name in ("train", "validation", "eval", "rejected")}
    store.put_lines(keys["train"], TRAIN)
    store.put_lines(keys["validation"], validation)
    store.put_lines(keys["eval"], [])
    store.put_lines(keys["rejected"], [])
    counts = {"rows_read": 20, "train": len(TRAIN), "validation": len(validation), "eval": 2, "rejected": 0}
    return PreparedDataset(
        run_id=RUN,
        train_key=keys["train"],
        validation_key=keys["validation"],
        eval_key=keys["eval"],
        rejected_key=keys["rejected"],
        counts=counts,
        rejected_by_reason={},
    )


@pytest.fixture
def store() -> InMemoryObjectStore:
    return InMemoryObjectStore()


@pytest.fixture
def runs() -> InMemoryRunStore:
    runs = InMemoryRunStore()
    runs.create_run(RUN, PROJECT, status="PREPARING")
    return runs


@pytest.fixture
def provider() -> ScriptedFineTuneProvider:
    return ScriptedFineTuneProvider()


def test_start_uploads_both_files_and_creates_one_job(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK, Hyperparameters(n_epochs=3))
    assert [(u.name, u.lines) for u in provider.uploads] == [
        (f"{RUN}-train.jsonl", TRAIN),  # the run id in the name: a retry finds it, the run's end deletes it
        (f"{RUN}-validation.jsonl", VALIDATION),
    ]
    train_id, validation_id = (u.file_id for u in provider.uploads)
    assert provider.create_calls == [
        {
            "run_id": RUN,
            "base_model": BASE,
            "training_file": train_id,
            "validation_file": validation_id,
            "hyperparameters": {"n_epochs": 3},
        }
    ]
    assert job.state is JobState.PENDING
    run = runs.get_run(RUN)
    assert run is not None
    assert (run["status"], run["job_id"], run["job_status"], run["base_model"]) == (
        "TRAINING",
        job.job_id,
        "validating_files",
        BASE,
    )


def test_a_retry_finds_the_job_and_creates_and_uploads_nothing(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    dataset = make_dataset(store)
    first = start_fine_tune(dataset, store, provider, runs, BASE, CLOCK)
    second = start_fine_tune(dataset, store, provider, runs, BASE, CLOCK)
    assert second.job_id == first.job_id
    assert len(provider.create_calls) == 1
    assert len(provider.uploads) == 2
    assert len(provider.jobs) == 1
    run = runs.get_run(RUN)
    assert run is not None and run["job_id"] == first.job_id


def test_lost_create_response_is_recovered_by_the_retry(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    dataset = make_dataset(store)
    provider.raise_on_next_create(TransientError("connection reset after the request was sent"))
    with pytest.raises(TransientError):
        start_fine_tune(dataset, store, provider, runs, BASE, CLOCK)
    assert len(provider.jobs) == 1  # the provider did create (and will bill) the job
    run = runs.get_run(RUN)
    assert run is not None and "job_id" not in run

    job = start_fine_tune(dataset, store, provider, runs, BASE, CLOCK)
    assert job.job_id == next(iter(provider.jobs))
    assert len(provider.jobs) == 1
    assert len(provider.create_calls) == 1
    assert len(provider.uploads) == 2
    run = runs.get_run(RUN)
    assert run is not None and run["job_id"] == job.job_id


def test_a_create_that_failed_before_creating_is_retried_once_it_has_settled(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    clock = Clock()
    dataset = make_dataset(store)
    provider.raise_on_next_create(TransientError("rate limited"), job_created=False)
    with pytest.raises(TransientError):
        start_fine_tune(dataset, store, provider, runs, BASE, clock)
    assert provider.jobs == {}
    clock.now += CREATE_SETTLE
    job = start_fine_tune(dataset, store, provider, runs, BASE, clock)
    assert list(provider.jobs) == [job.job_id]
    assert len(provider.create_calls) == 2
    assert len(provider.uploads) == 2  # the retry reused the files it had uploaded


def test_a_create_that_completes_after_the_client_timed_out_is_waited_for_not_repeated(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    """The emulator holding POST /v1/fine_tuning/jobs for 40 s against a 30 s client timeout: the retry's lookup
    ran 0-2 s later, missed the job, and paid for a second one."""
    clock = Clock()
    dataset = make_dataset(store)
    provider.raise_on_next_create(TransientError("APITimeoutError: Request timed out."), lands_after=2)
    with pytest.raises(TransientError):
        start_fine_tune(dataset, store, provider, runs, BASE, clock)
    clock.now += timedelta(seconds=2)
    with pytest.raises(JobCreatePending):  # not listed yet: look again later instead of creating
        start_fine_tune(dataset, store, provider, runs, BASE, clock)
    clock.now += timedelta(seconds=60)
    with pytest.raises(JobCreatePending):
        start_fine_tune(dataset, store, provider, runs, BASE, clock)
    clock.now += timedelta(seconds=60)
    job = start_fine_tune(dataset, store, provider, runs, BASE, clock)  # listed now
    assert len(provider.create_calls) == 1 and list(provider.jobs) == [job.job_id]
    assert runs.get_run(RUN)["job_id"] == job.job_id


def test_a_job_that_lands_even_later_is_cancelled_and_recorded_as_an_extra(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    clock = Clock()
    dataset = make_dataset(store)
    provider.raise_on_next_create(TransientError("APITimeoutError"), lands_after=10)  # beyond the fence
    with pytest.raises(TransientError):
        start_fine_tune(dataset, store, provider, runs, BASE, clock)
    clock.now += CREATE_SETTLE
    late = next(iter(provider.jobs))
    job = start_fine_tune(dataset, store, provider, runs, BASE, clock)  # the fence passed: a second create
    assert job.job_id != late and len(provider.jobs) == 2
    provider._hidden[late] = 0  # ...and then the first one shows up
    check_fine_tune(RUN, job.job_id, provider, runs)
    assert provider.cancel_calls == [late] and provider.trained(RUN) == [job.job_id]
    run = runs.get_run(RUN)
    assert run["extra_job_ids"] == [late] and run["extra_jobs_cancelled"] == [late]
    assert run["job_id"] == job.job_id


def test_a_job_of_another_run_is_not_reused(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    other = provider.create_job(
        run_id="run-other",
        base_model=BASE,
        training_file=provider.upload_training_file("run-other-train.jsonl", TRAIN),
        validation_file=None,
        hyperparameters=Hyperparameters(),
    )
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK)
    assert job.job_id != other.job_id
    assert len(provider.jobs) == 2


def test_validation_file_is_skipped_when_there_are_no_validation_examples(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    start_fine_tune(make_dataset(store, validation=[]), store, provider, runs, BASE, CLOCK)
    assert [u.name for u in provider.uploads] == [f"{RUN}-train.jsonl"]
    assert provider.create_calls[0]["validation_file"] is None
    assert provider.create_calls[0]["training_file"] == provider.uploads[0].file_id


def test_check_records_success(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    provider.statuses = ("running", "succeeded")
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK)

    polled = check_fine_tune(RUN, job.job_id, provider, runs)
    assert polled.state is JobState.PENDING
    run = runs.get_run(RUN)
    assert run is not None
    assert run["job_status"] == "running"
    assert "fine_tuned_model" not in run

    done = check_fine_tune(RUN, job.job_id, provider, runs)
    assert done.state is JobState.SUCCEEDED
    assert done.fine_tuned_model and done.fine_tuned_model.startswith(f"ft:{BASE}:")
    run = runs.get_run(RUN)
    assert run is not None
    assert run["job_status"] == "succeeded"
    assert run["fine_tuned_model"] == done.fine_tuned_model
    assert run["trained_tokens"] == provider.trained_tokens
    assert "job_error_message" not in run


def test_check_records_failure(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    provider.statuses = ("running",)
    provider.fail_with("invalid_training_file", "Training file has 3 examples; at least 10 are required.")
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK)
    assert check_fine_tune(RUN, job.job_id, provider, runs).state is JobState.PENDING
    failed = check_fine_tune(RUN, job.job_id, provider, runs)
    assert failed.state is JobState.FAILED
    run = runs.get_run(RUN)
    assert run is not None
    assert run["job_status"] == "failed"
    assert run["job_error_code"] == "invalid_training_file"
    assert run["job_error_message"] == "Training file has 3 examples; at least 10 are required."
    assert "fine_tuned_model" not in run


def test_check_maps_cancelled_to_failed(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    provider.statuses = ("cancelled",)
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK)
    assert check_fine_tune(RUN, job.job_id, provider, runs).state is JobState.FAILED
    run = runs.get_run(RUN)
    assert run is not None and run["job_status"] == "cancelled"


def test_check_of_an_unknown_status_keeps_waiting(
    store: InMemoryObjectStore, runs: InMemoryRunStore, provider: ScriptedFineTuneProvider
) -> None:
    provider.statuses = ("some_new_status",)
    job = start_fine_tune(make_dataset(store), store, provider, runs, BASE, CLOCK)
    assert check_fine_tune(RUN, job.job_id, provider, runs).state is JobState.PENDING
    run = runs.get_run(RUN)
    assert run is not None and run["job_status"] == "some_new_status"
