"""OpenAI job statuses -> what the state machine does next (REFERENCE.md section 4)."""

from __future__ import annotations

import pytest

from labeltune.domain.job_state import openai_job_state
from labeltune.domain.models import JobState


def test_succeeded_is_succeeded() -> None:
    assert openai_job_state("succeeded") is JobState.SUCCEEDED


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_failed_and_cancelled_end_the_run_as_failed(status: str) -> None:
    assert openai_job_state(status) is JobState.FAILED


@pytest.mark.parametrize("status", ["validating_files", "queued", "running", "pausing", "paused"])
def test_documented_unfinished_statuses_keep_waiting(status: str) -> None:
    assert openai_job_state(status) is JobState.PENDING


@pytest.mark.parametrize("status", ["", "completed", "SUCCEEDED", "Succeeded", "canceled", "some_future_status"])
def test_unknown_statuses_are_not_finished(status: str) -> None:
    # A status we do not know must never be read as success (nothing to evaluate) or failure (a paid
    # job abandoned): keep polling.
    assert openai_job_state(status) is JobState.PENDING
