"""File listing and deletion through the real `openai` SDK: what a pipeline needs to clean up after itself."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import openai
import pytest
from openai import OpenAI

from labeltune_tools.emulator import OpenAIEmulator


def _list_exchanges(emulator: OpenAIEmulator) -> list[dict[str, list[str]]]:
    """Query parameters of every `GET /v1/files` the SDK sent, oldest first."""
    return [parse_qs(e.query) for e in emulator.exchanges if e.method == "GET" and e.path == "/v1/files"]


def test_list_and_delete_round_trip(emulator: OpenAIEmulator, client: OpenAI, training_bytes: bytes) -> None:
    train = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    valid = client.files.create(file=("valid.jsonl", training_bytes), purpose="fine-tune")
    notes = client.files.create(file=("notes.txt", b"notes"), purpose="user_data")

    assert [f.id for f in client.files.list()] == [notes.id, valid.id, train.id]  # newest first
    assert [f.id for f in client.files.list(purpose="fine-tune")] == [valid.id, train.id]
    assert list(client.files.list(purpose="fine-tune"))[1] == train  # the same OpenAIFile as create returned

    deleted = client.files.delete(train.id)

    assert (deleted.id, deleted.object, deleted.deleted) == (train.id, "file", True)
    assert [f.id for f in client.files.list(purpose="fine-tune")] == [valid.id]
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(train.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(train.id)
    assert [f["id"] for f in emulator.files()] == [valid.id, notes.id]
    assert [f["id"] for f in emulator.state.files(purpose="fine-tune")] == [valid.id]


def test_deleting_an_unknown_or_deleted_file_is_an_openai_404(client: OpenAI, upload, training_bytes: bytes) -> None:
    file_id = upload(training_bytes)
    client.files.delete(file_id)

    for missing in (file_id, "file-doesnotexist"):
        with pytest.raises(openai.NotFoundError) as raised:
            client.files.delete(missing)
        assert raised.value.body == {
            "message": f"No such File object: {missing}",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }


def test_sdk_paginates_through_every_file(emulator: OpenAIEmulator, client: OpenAI) -> None:
    uploaded = [client.files.create(file=(f"f{i}.jsonl", b"{}\n"), purpose="fine-tune").id for i in range(5)]
    client.files.create(file=("other.txt", b"x"), purpose="user_data")
    emulator.clear_exchanges()

    listed = [f.id for f in client.files.list(purpose="fine-tune", limit=2)]

    assert listed == uploaded[::-1]
    pages = _list_exchanges(emulator)
    assert len(pages) == 3  # 2 + 2 + 1, the last one with has_more false
    assert all(page["purpose"] == ["fine-tune"] and page["limit"] == ["2"] for page in pages)
    assert [page.get("after") for page in pages] == [None, [uploaded[3]], [uploaded[1]]]
    bodies = [e.json() for e in emulator.exchanges if e.path == "/v1/files"]
    assert [(b["first_id"], b["last_id"], b["has_more"]) for b in bodies] == [
        (uploaded[4], uploaded[3], True),
        (uploaded[2], uploaded[1], True),
        (uploaded[0], uploaded[0], False),
    ]


def test_order_and_after_cursor(client: OpenAI) -> None:
    ids = [client.files.create(file=(f"f{i}.jsonl", b"{}\n"), purpose="fine-tune").id for i in range(4)]

    assert [f.id for f in client.files.list(order="asc")] == ids
    first = client.files.list(order="asc", limit=2)
    assert [f.id for f in first.data] == ids[:2] and first.has_more
    rest = client.files.list(order="asc", after=ids[1])
    assert [f.id for f in rest.data] == ids[2:] and not rest.has_more
    assert [f.id for f in client.files.list(after=ids[2]).data] == ids[:2][::-1]  # desc: older than the cursor


def test_empty_page_has_null_first_and_last_id(emulator: OpenAIEmulator, client: OpenAI) -> None:
    """The spec types them as strings, but an empty page has no ids: null, as its other cursor lists allow."""
    page = client.files.list(purpose="batch")

    assert page.data == [] and page.has_more is False
    body = emulator.exchanges[-1].json()
    assert (body["first_id"], body["last_id"]) == (None, None)


@pytest.mark.parametrize(
    ("query", "param"),
    [({"limit": "0"}, "limit"), ({"limit": "10001"}, "limit"), ({"order": "sideways"}, "order")],
)
def test_bad_list_parameters_are_400(client: OpenAI, query: dict[str, str], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.list(extra_query=query)

    assert raised.value.param == param


def test_a_run_that_cleans_up_leaves_only_result_files(
    emulator: OpenAIEmulator, client: OpenAI, upload: Callable[..., str], wait_for_job, training_bytes: bytes
) -> None:
    """The assertion a pipeline test makes: no uploaded file left at the emulator after the run."""
    training = upload(training_bytes)
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training)
    finished = wait_for_job(job.id)
    for stored in client.files.list(purpose="fine-tune"):
        client.files.delete(stored.id)

    assert finished.status == "succeeded"
    assert emulator.files(purpose="fine-tune") == []
    assert [f["id"] for f in emulator.files()] == finished.result_files  # purpose fine-tune-results, kept


def test_deleting_the_training_file_during_the_job_does_not_break_it(
    client: OpenAI, upload: Callable[..., str], wait_for_job, training_bytes: bytes
) -> None:
    """The emulator's job keeps the content it was created with (api.openai.com's behaviour is unverified)."""
    training = upload(training_bytes)
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training)
    client.files.delete(training)

    assert job.status == "validating_files"
    assert wait_for_job(job.id).status == "succeeded"
    with pytest.raises(openai.BadRequestError):  # but a new job cannot use it
        client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=training)
