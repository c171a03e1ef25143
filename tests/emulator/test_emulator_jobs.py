"""Files and fine-tuning jobs through the real `openai` SDK."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import openai
import pytest
from openai import OpenAI


def test_file_upload_retrieve_and_content(client: OpenAI, training_bytes: bytes) -> None:
    created = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")

    assert created.id.startswith("file-")
    assert (created.filename, created.purpose, created.bytes) == ("train.jsonl", "fine-tune", len(training_bytes))
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).read() == training_bytes


def test_file_bytes_round_trip_exactly_and_expiry(client: OpenAI) -> None:
    raw = b"\x00\xff binary\r\n--not-a-boundary\r\n\r\n"
    created = client.files.create(
        file=("blob.bin", raw), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 3600}
    )

    assert client.files.content(created.id).read() == raw
    assert created.expires_at == created.created_at + 3600


def test_fine_tune_upload_must_be_jsonl(client: OpenAI, training_bytes: bytes) -> None:
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        client.files.create(file=training_bytes, purpose="fine-tune")  # bytes alone are sent as "upload"


def test_unknown_file_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-doesnotexist")


def test_job_lifecycle_by_wall_clock(client: OpenAI, upload, wait_for_job, training_bytes: bytes) -> None:
    job = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini-2025-04-14",
        training_file=upload(training_bytes),
        suffix="pii-summary",
        seed=7,
        metadata={"labeltune_run_id": "run-1"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert job.status == "validating_files"
    assert job.fine_tuned_model is None and job.finished_at is None and job.trained_tokens is None
    assert job.seed == 7 and job.metadata == {"labeltune_run_id": "run-1"}

    seen = set()
    deadline = time.monotonic() + 5
    while job.status not in ("succeeded", "failed") and time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job.id)
        seen.add(job.status)
        time.sleep(0.01)

    assert job.status == "succeeded"
    assert {"queued", "running"} <= seen
    assert job.fine_tuned_model == f"ft:gpt-4.1-mini-2025-04-14:labeltune-emulator:pii-summary:{job.id[-8:]}"
    assert job.finished_at is not None and job.finished_at >= job.created_at
    assert job.trained_tokens and job.trained_tokens > 0
    assert job.hyperparameters.n_epochs == 2
    assert isinstance(job.hyperparameters.batch_size, int)  # "auto" resolved once the file was read
    assert len(job.result_files) == 1
    metrics = client.files.retrieve(job.result_files[0])
    assert metrics.purpose == "fine-tune-results"
    assert client.files.content(metrics.id).read().startswith(b"step,train_loss")


def test_trained_tokens_scale_with_epochs(client: OpenAI, upload, wait_for_job, training_bytes: bytes) -> None:
    file_id = upload(training_bytes)
    jobs = [
        client.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=file_id,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}},
        )
        for epochs in (1, 3)
    ]
    one, three = (wait_for_job(job.id) for job in jobs)
    assert one.model == "gpt-4o-mini-2024-07-18"  # alias resolved to the snapshot, as OpenAI does
    assert three.trained_tokens == 3 * one.trained_tokens


def test_events_one_per_transition_newest_first(client: OpenAI, upload, wait_for_job, training_bytes: bytes) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes))
    wait_for_job(job.id)

    events = list(client.fine_tuning.jobs.list_events(job.id))
    assert [cast(Any, e.data)["status"] for e in events] == ["succeeded", "running", "queued", "validating_files"]
    assert all(e.object == "fine_tuning.job.event" and e.level == "info" for e in events)
    first_page = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert first_page.has_more and [e.id for e in first_page.data] == [e.id for e in events[:2]]


def test_list_filters_by_metadata_and_paginates(client: OpenAI, upload, training_bytes: bytes) -> None:
    file_id = upload(training_bytes)
    created = [
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id, metadata={"run": run})
        for run in ("a", "b", "a")
    ]
    client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=file_id)

    run_a = [job.id for job in client.fine_tuning.jobs.list(metadata={"run": "a"})]
    assert run_a == [created[2].id, created[0].id]  # newest first
    assert [job.id for job in client.fine_tuning.jobs.list(metadata={"run": "zzz"})] == []
    assert len(list(client.fine_tuning.jobs.list(extra_query={"metadata": "null"}))) == 1

    page = client.fine_tuning.jobs.list(limit=3)
    assert page.has_more and len(page.data) == 3
    assert len(list(client.fine_tuning.jobs.list(limit=1))) == 4  # the SDK follows `after` cursors


def test_cancel(client: OpenAI, upload, training_bytes: bytes) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes))

    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    time.sleep(0.35)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"  # time no longer moves it
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


def test_force_job_failure(emulator, client: OpenAI, upload, training_bytes: bytes) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes))

    emulator.force_job_failure(job.id, "server_error", "Internal error while training.")

    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.fine_tuned_model is None
    assert (failed.error.code, failed.error.message) == ("server_error", "Internal error while training.")


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (["{not json"] + [None] * 10, "Line 1: not valid JSON"),
        ([None] * 3 + [{"prompt": "x", "completion": "y"}] + [None] * 8, "Line 4: missing 'messages' list"),
        (
            [None] * 5 + [{"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "a"}]}],
            "Line 6, message 1: unrecognized role 'human'",
        ),
        ([None] * 10 + [{"messages": [{"role": "user", "content": "only a question"}]}], "Line 11: example has no"),
        ([None] * 10 + [{"messages": [{"role": "user", "content": 3}]}], "Line 11, message 1: 'content' must be"),
        ([None] * 4, "has 4 example(s), but must have at least 10"),
    ],
)
def test_invalid_training_file_fails_job(client: OpenAI, upload, wait_for_job, chats, records, reason: str) -> None:
    lines = [chats.example(i % chats.count) if r is None else r for i, r in enumerate(records)]
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(chats.jsonl(lines)))

    failed = wait_for_job(job.id)

    assert failed.status == "failed"
    assert failed.error.code == "invalid_training_file"
    assert failed.error.param == "training_file"
    assert reason in failed.error.message
    assert failed.fine_tuned_model is None
    assert client.fine_tuning.jobs.list_events(job.id).data[0].level == "error"


def test_invalid_validation_file_fails_job(client: OpenAI, upload, wait_for_job, training_bytes: bytes) -> None:
    bad = json.dumps({"messages": [{"role": "user", "content": "no answer"}]}).encode()
    job = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini", training_file=upload(training_bytes), validation_file=upload(bad, "valid.jsonl")
    )

    failed = wait_for_job(job.id)

    assert (failed.status, failed.error.code, failed.error.param) == (
        "failed",
        "invalid_validation_file",
        "validation_file",
    )


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"training_file": "file-unknown"}, "training_file"),
        ({"model": "gpt-2"}, "model"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"seed": -1}, "seed"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 51}}}},
            "method.supervised.hyperparameters.n_epochs",
        ),
        ({"method": {"type": "dpo"}}, "method.type"),
    ],
)
def test_create_rejects_invalid_requests(client: OpenAI, upload, training_bytes: bytes, overrides, param) -> None:
    arguments = {"model": "gpt-4.1-mini", "training_file": upload(training_bytes), **overrides}

    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.jobs.create(**arguments)

    assert raised.value.type == "invalid_request_error"
    if param is not None:
        assert raised.value.param == param


def test_metadata_with_sixteen_pairs_is_accepted(client: OpenAI, upload, training_bytes: bytes) -> None:
    metadata = {f"k{i}": "v" * 512 for i in range(16)}
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes), metadata=metadata)
    assert job.metadata == metadata


def test_file_with_other_purpose_cannot_train(client: OpenAI, training_bytes: bytes) -> None:
    other = client.files.create(file=("notes.jsonl", training_bytes), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=other.id)


def test_unknown_job_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-missing")
