"""Fixtures: a fresh emulator per test and an `openai` SDK client pointed at it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from openai import OpenAI
from openai.types.fine_tuning import FineTuningJob

from labeltune_tools.emulator import OpenAIEmulator

JOB_SECONDS = 0.3
TERMINAL = {"succeeded", "failed", "cancelled"}

TOPICS = [
    ("I want a refund for the blender that arrived broken", "Customer requests a refund for a broken blender."),
    ("my parcel is two weeks late and tracking has not moved", "Customer reports a delayed parcel."),
    ("I cannot log in, the password reset email never comes", "Customer cannot reset their password."),
    ("please send me a VAT invoice for last month", "Customer asks for a VAT invoice."),
    ("I need to change the shipping address on my order", "Customer wants to change the shipping address."),
    ("cancel my subscription before the next renewal", "Customer asks to cancel the subscription."),
    ("does the warranty cover a cracked screen", "Customer asks whether the warranty covers a cracked screen."),
    ("my discount code was rejected at checkout", "Customer reports a rejected discount code."),
    ("the shoes are too small and I want a bigger size", "Customer wants to exchange shoes for a larger size."),
    ("I was charged twice for the same order", "Customer reports a duplicate charge."),
    ("can you wrap the order as a gift with a card", "Customer asks for gift wrapping with a card."),
    ("when will the red kettle be back in stock", "Customer asks when the red kettle is restocked."),
]


class SupportChats:
    """Generated support chats with PII (in the user message) and PII-free reference summaries."""

    count = len(TOPICS)

    @staticmethod
    def transcript(index: int) -> str:
        return transcript(index)

    @staticmethod
    def summary(index: int) -> str:
        return TOPICS[index][1]

    @staticmethod
    def example(index: int) -> dict:
        return example(index)

    @staticmethod
    def jsonl(records: list[dict] | list[str]) -> bytes:
        return jsonl(records)


def transcript(index: int) -> str:
    """A short support chat with PII in it, as the pipeline would send it."""
    complaint, _ = TOPICS[index]
    return (
        f"Maria Gonzalez{index}: Hello, {complaint}. Order ORD-{500000 + index}, "
        f"email maria{index}@example.com, phone 555-010-{1000 + index}.\n"
        f"Tom Baker: Thanks Maria, let me check that for you."
    )


def example(index: int) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "Summarise the support chat without personal data."},
            {"role": "user", "content": transcript(index)},
            {"role": "assistant", "content": TOPICS[index][1]},
        ]
    }


def jsonl(records: list[dict] | list[str]) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


@pytest.fixture
def chats() -> type[SupportChats]:
    return SupportChats


@pytest.fixture
def training_bytes() -> bytes:
    return jsonl([example(i) for i in range(len(TOPICS))])


@pytest.fixture
def emulator() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(job_duration_seconds=JOB_SECONDS) as running:
        yield running


@pytest.fixture
def client(emulator: OpenAIEmulator) -> Iterator[OpenAI]:
    with OpenAI(base_url=emulator.base_url, api_key="sk-test", timeout=5.0) as sdk:
        yield sdk


@pytest.fixture
def upload(client: OpenAI) -> Callable[..., str]:
    def _upload(content: bytes, name: str = "train.jsonl") -> str:
        return client.files.create(file=(name, content), purpose="fine-tune").id

    return _upload


@pytest.fixture
def wait_for_job(client: OpenAI) -> Callable[[str], FineTuningJob]:
    def _wait(job_id: str, timeout: float = 5.0) -> FineTuningJob:
        deadline = time.monotonic() + timeout
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            if job.status in TERMINAL or time.monotonic() > deadline:
                return job
            time.sleep(0.02)

    return _wait
