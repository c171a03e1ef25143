"""The inputs the state machine sends each step, validated with pydantic (Powertools parser)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from labeltune.domain.models import FineTuneJob
from labeltune.pipeline.prepare import PreparedDataset


class PrepareDatasetEvent(BaseModel):
    run_id: str
    project_id: str


class StartFineTuneEvent(BaseModel):
    run_id: str
    dataset: PreparedDataset


class CheckFineTuneEvent(BaseModel):
    run_id: str
    job_id: str


class EvaluateEvent(BaseModel):
    run_id: str
    dataset: PreparedDataset
    job: FineTuneJob


class RecordOutcomeEvent(BaseModel):
    run_id: str
    outcome: Literal["SUCCEEDED", "FAILED"]
    error: str | None = None
    cause: str | None = None
