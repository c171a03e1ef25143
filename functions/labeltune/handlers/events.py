"""The inputs the state machine sends each step: Powertools' parser (`event_parser`) validates them with these.

Imported by every step function at its cold start, so it holds the state inputs only: the dataset builder is
PrepareDataset's alone, and EventBridge's event for RecordOutcome is in execution_status.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from labeltune.domain.models import ChunkRef, FineTuneJob, ModelEndpoint
from labeltune.domain.project_config import LEGACY_PROVIDER, ProjectConfig, Provider
from labeltune.pipeline.prepare import PreparedDataset  # a model: importing it does not import the builder


class StepInput(BaseModel):
    """A state's input. Each function parses one or two of these and imports them all: a model's validator is
    built when its first event is parsed, not at every function's cold start."""

    model_config = ConfigDict(defer_build=True)


class StartExportEvent(StepInput):
    action: Literal["start"]
    run_id: str
    project_id: str
    config: ProjectConfig = ProjectConfig()


class CheckExportEvent(StepInput):
    action: Literal["check"]
    run_id: str
    task_id: str
    started_at: str


class SnapshotExportEvent(StepInput):
    action: Literal["snapshot"]
    run_id: str
    task_id: str
    config: ProjectConfig = ProjectConfig()


ExportStep = StartExportEvent | CheckExportEvent | SnapshotExportEvent
ExportEvent = Annotated[ExportStep, Field(discriminator="action")]
"""The three export states share one function; `action` says which step this is (a discriminated union:
an event is checked against the one model its action names, and an unknown action is refused as such)."""


class PrepareDatasetEvent(StepInput):
    run_id: str
    project_id: str
    config: ProjectConfig = ProjectConfig()
    snapshot_key: str  # the run's export snapshot (runs/<run>/export.ndjson)


class StartFineTuneEvent(StepInput):
    run_id: str
    dataset: PreparedDataset
    config: ProjectConfig = ProjectConfig()


class CheckFineTuneEvent(StepInput):
    """AwaitFineTune's payload: the job, and the state's task token (absent: one look, nothing stored)."""

    run_id: str
    job_id: str
    provider: Provider = LEGACY_PROVIDER
    task_token: str | None = Field(None, min_length=1, max_length=2048)


class ServeModelEvent(StepInput):
    """ServeTunedModel (`start`: the job that succeeded) and CheckTunedModel (`check`: the endpoint)."""

    action: Literal["start", "check"]
    run_id: str
    provider: Provider = LEGACY_PROVIDER
    job: FineTuneJob | None = None  # start
    endpoint_id: str | None = None  # check
    requested_at: str | None = None  # check


class PlanEvaluationEvent(StepInput):
    """PlanEvaluation: the held-out set into chunks for the Map, and the model ids the chunks ask."""

    action: Literal["plan"]
    run_id: str
    dataset: PreparedDataset
    job: FineTuneJob
    endpoint: ModelEndpoint | None = None  # what serves the tuned model; absent: the job's model, called by name
    config: ProjectConfig = ProjectConfig()


class EvaluateChunkEvent(StepInput):
    """One item of the EvaluateChunks Map."""

    action: Literal["chunk"]
    run_id: str
    provider: Provider
    base_model: str
    tuned_model: str
    chunk: ChunkRef
    judge_model: str | None = None  # the project's judge, asked about every tuned summary


class AggregateEvaluationEvent(StepInput):
    action: Literal["aggregate"]
    run_id: str
    manifest_key: str
    base_model: str
    tuned_model: str
    config: ProjectConfig = ProjectConfig()


EvaluateEvent = Annotated[
    PlanEvaluationEvent | EvaluateChunkEvent | AggregateEvaluationEvent, Field(discriminator="action")
]
"""What the EvaluateFunction is invoked with, by the state its `action` names."""


class PublishPredictionsEvent(StepInput):
    """PublishPredictions: the evaluated run's tuned answers to Labelbox, as the project's `predictions` say."""

    run_id: str
    project_id: str
    config: ProjectConfig = ProjectConfig()


class RecordOutcomeEvent(StepInput):
    run_id: str
    project_id: str | None = None  # absent only in events from before per-project runs
    outcome: Literal["SUCCEEDED", "FAILED"]
    error: str | None = None
    cause: str | None = None
