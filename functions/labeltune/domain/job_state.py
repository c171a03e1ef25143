"""What a provider's job status means for the pipeline: wait, evaluate, or record a failure."""

from __future__ import annotations

from labeltune.domain.models import JobState

_OPENAI_TERMINAL = {"succeeded": JobState.SUCCEEDED, "failed": JobState.FAILED, "cancelled": JobState.FAILED}


def openai_job_state(status: str) -> JobState:
    """Map an OpenAI fine-tuning status; any status we do not know is treated as not finished."""
    return _OPENAI_TERMINAL.get(status, JobState.PENDING)
