"""The inputs the state machine sends each step, validated with pydantic (Powertools parser)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from labeltune.domain.models import FineTuneJob
from labeltune.domain.project_config import ProjectConfig
from labeltune.pipeline.prepare import PreparedDataset


class StartExportEvent(BaseModel):
    action: Literal["start"]
    run_id: str
    project_id: str
    config: ProjectConfig = ProjectConfig()


class CheckExportEvent(BaseModel):
    action: Literal["check"]
    run_id: str
    task_id: str
    started_at: str


class SnapshotExportEvent(BaseModel):
    action: Literal["snapshot"]
    run_id: str
    task_id: str
    config: ProjectConfig = ProjectConfig()


class ExportEvent(BaseModel):
    """The three export states share one function; `action` says which step this is."""

    step: Annotated[StartExportEvent | CheckExportEvent | SnapshotExportEvent, Field(discriminator="action")]


class PrepareDatasetEvent(BaseModel):
    run_id: str
    project_id: str
    config: ProjectConfig = ProjectConfig()
    snapshot_key: str  # the run's export snapshot (runs/<run>/export.ndjson)


class StartFineTuneEvent(BaseModel):
    run_id: str
    dataset: PreparedDataset
    config: ProjectConfig = ProjectConfig()


class CheckFineTuneEvent(BaseModel):
    run_id: str
    job_id: str


class EvaluateEvent(BaseModel):
    run_id: str
    dataset: PreparedDataset
    job: FineTuneJob
    config: ProjectConfig = ProjectConfig()


class RecordOutcomeEvent(BaseModel):
    run_id: str
    project_id: str | None = None  # absent only in events from before per-project runs
    outcome: Literal["SUCCEEDED", "FAILED"]
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    """EventBridge "Step Functions Execution Status Change" for an execution that ended badly."""

    class Detail(BaseModel):
        name: str  # the execution name: the run id
        status: str
        input: str | None = None
        cause: str | None = None
        error: str | None = None

        def project_id(self) -> str | None:
            try:
                value = json.loads(self.input or "{}").get("project_id")
            except (json.JSONDecodeError, AttributeError):
                return None
            return str(value) if value else None

    detail: Detail
