"""Chat completions and models through the real `openai` SDK: the emulated model behaviours."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import OpenAI

SYSTEM: Any = {"role": "system", "content": "Summarise the support chat without personal data."}


def _ask(client: OpenAI, model: str, text: str, **kwargs) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(
        model=model, messages=[SYSTEM, {"role": "user", "content": text}], temperature=0, **kwargs
    )


@pytest.fixture
def tuned_model(client: OpenAI, upload, wait_for_job, training_bytes: bytes) -> str:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes), suffix="pii")
    done = wait_for_job(job.id)
    assert done.status == "succeeded"
    return done.fine_tuned_model


def test_base_model_leaks_pii(client: OpenAI, chats) -> None:
    response = _ask(client, "gpt-4.1-mini-2025-04-14", chats.transcript(3))
    summary = response.choices[0].message.content

    assert summary.startswith(
        "Summary: Maria Gonzalez3 contacted support (email maria3@example.com, phone 555-010-1003)"
    )
    assert "about order ORD-500003." in summary
    assert "Hello, please send me a VAT invoice for last month." in summary
    assert "Tom Baker" in summary
    assert response.model == "gpt-4.1-mini-2025-04-14"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0


def test_base_model_is_deterministic_and_alias_resolves(client: OpenAI, chats) -> None:
    first = _ask(client, "gpt-4o-mini", chats.transcript(0))
    second = _ask(client, "gpt-4o-mini", chats.transcript(0))
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.model == "gpt-4o-mini-2024-07-18"


def test_fine_tuned_model_answers_with_nearest_training_example(client: OpenAI, tuned_model: str, chats) -> None:
    # A new chat about a double charge, worded differently and with other PII.
    query = "Priya Natarajan: hi, I was charged twice for my order #778899, please help. priya@example.org"
    answer = _ask(client, tuned_model, query).choices[0].message.content

    assert answer == chats.summary(9)
    assert "priya" not in answer.lower()
    for index in range(chats.count):
        assert _ask(client, tuned_model, chats.transcript(index)).choices[0].message.content == chats.summary(index)


def test_max_completion_tokens_truncates(client: OpenAI, chats) -> None:
    response = _ask(client, "gpt-4.1-mini", chats.transcript(1), max_completion_tokens=3)
    assert response.choices[0].message.content == "Summary: Maria"
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 3


def test_unknown_model_is_404_model_not_found(client: OpenAI) -> None:
    for model in ("gpt-9", "ft:gpt-4.1-mini-2025-04-14:labeltune-emulator::nope1234"):
        with pytest.raises(openai.NotFoundError) as raised:
            _ask(client, model, "hello")
        assert raised.value.code == "model_not_found"


def test_fine_tuned_model_exists_only_after_success(client: OpenAI, upload, wait_for_job, training_bytes) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(training_bytes), suffix="later")
    name = f"ft:gpt-4.1-mini-2025-04-14:labeltune-emulator:later:{job.id[-8:]}"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(name)

    assert wait_for_job(job.id).fine_tuned_model == name
    assert client.models.retrieve(name).owned_by == "org-labeltune-emulator"


def test_models_list_and_retrieve(client: OpenAI, tuned_model: str) -> None:
    ids = [model.id for model in client.models.list()]

    assert {"gpt-4.1-mini-2025-04-14", "gpt-4.1-2025-04-14", "gpt-4o-mini-2024-07-18", tuned_model} <= set(ids)
    base = client.models.retrieve("gpt-4o-mini-2024-07-18")
    assert (base.object, base.owned_by) == ("model", "system")
    assert base.shutdown_date == "2027-01-14"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-9")


def test_continued_fine_tuning_from_own_model(client: OpenAI, upload, wait_for_job, tuned_model, chats) -> None:
    narrow = chats.jsonl([chats.example(0)] * 10)
    job = client.fine_tuning.jobs.create(model=tuned_model, training_file=upload(narrow), suffix="again")
    done = wait_for_job(job.id)

    assert done.model == tuned_model
    assert done.fine_tuned_model.startswith("ft:gpt-4.1-mini-2025-04-14:labeltune-emulator:again:")
    # It knows only its own (single-topic) training file.
    assert _ask(client, done.fine_tuned_model, chats.transcript(9)).choices[0].message.content == chats.summary(0)


def test_stream_is_refused_honestly(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="streaming"):
        client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "x"}], stream=True)
