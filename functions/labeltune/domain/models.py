"""The nouns of the pipeline, shared by every stage. Pure pydantic: no AWS, no network."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
SplitName = Literal["train", "validation", "eval"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Role
    content: str


class ChatExample(BaseModel):
    """One labelled data row, ready for fine-tuning: system prompt, the document, the human response."""

    model_config = ConfigDict(frozen=True)
    data_row_id: str
    split_key: str = Field(description="Stable identity the split is derived from (global key, else data row id)")
    label_id: str
    system: str
    prompt: str
    response: str

    def messages(self) -> list[ChatMessage]:
        return [
            ChatMessage(role="system", content=self.system),
            ChatMessage(role="user", content=self.prompt),
            ChatMessage(role="assistant", content=self.response),
        ]

    def to_openai_line(self) -> dict:
        """The chat fine-tuning JSONL record OpenAI documents: {"messages": [...]}."""
        return {"messages": [m.model_dump() for m in self.messages()]}


class Rejection(BaseModel):
    """A row that could not become an example. Carries ids and a reason code, never content."""

    model_config = ConfigDict(frozen=True)
    data_row_id: str | None
    reason: str
    line_number: int | None = None


class JobState(StrEnum):
    """What the pipeline does next with a fine-tuning job, whatever the provider called its status."""

    PENDING = "pending"  # keep waiting
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FineTuneJob(BaseModel):
    """A provider-neutral view of a fine-tuning job."""

    job_id: str
    run_id: str | None = Field(None, description="the run the job was created for (from the provider's own record)")
    status: str = Field(description="The provider's own status word, kept verbatim for the record")
    state: JobState
    base_model: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    created_at: int | None = Field(None, description="when the provider created it (Unix seconds), for ordering")


class EndpointState(StrEnum):
    """Whether a tuned model can be called yet, whatever the provider calls it."""

    PENDING = "pending"  # being created: look again later
    READY = "ready"
    FAILED = "failed"


class ModelEndpoint(BaseModel):
    """How a tuned model is called: OpenAI serves it by name at once; Bedrock through an on-demand deployment
    the run creates, waits for and deletes."""

    endpoint_id: str = Field(description="what the provider calls the serving resource (the model itself for OpenAI)")
    model_id: str = Field(description="the id to send inference calls to")
    state: EndpointState
    status: str = Field(description="the provider's own status word, kept verbatim for the record")
    message: str | None = Field(None, description="why it failed, in the provider's words")


START_FAILED = "StartFailed"  # the error of a run whose execution never started: its run id may start afresh
# The task token of the execution waiting for the run's fine-tuning job (pipeline/completion.py). It resumes the
# execution, so the API never shows it.
WAIT_TOKEN = "wait_token"
INTERNAL_RUN_FIELDS = frozenset({WAIT_TOKEN})


def public_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run record as the API shows it."""
    return {key: value for key, value in run.items() if key not in INTERNAL_RUN_FIELDS}


class RunStatus(StrEnum):
    STARTED = "STARTED"
    EXPORTING = "EXPORTING"
    PREPARING = "PREPARING"
    TRAINING = "TRAINING"
    EVALUATING = "EVALUATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # stopped on request (POST /runs/{id}/cancel): pipeline/cancel.py


FINISHED_RUN_STATUSES = frozenset({RunStatus.SUCCEEDED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value})
"""A run in one of these has ended: nothing may start it again (but a StartFailed one), nothing reopens it."""


def status_change_allowed(run: dict[str, Any], status: str) -> bool:
    """Whether a run may be given `status` (the run store's rule, one conditional write in DynamoDB): a step's
    status never reopens an ended run; an ended run keeps its status (the same again is a retried recorder), but a
    success may be corrected to FAILED (its recorder failed after writing it); SUCCEEDED is written only while no
    cancel is asked, so a cancel and a success that race cannot both win."""
    current = run.get("status")
    if status == RunStatus.SUCCEEDED.value and run.get("cancel_requested_at"):
        return False
    if current not in FINISHED_RUN_STATUSES or current == status:
        return True
    return current == RunStatus.SUCCEEDED.value and status == RunStatus.FAILED.value


CANCELLED_ERROR = "Cancelled"  # the error of a cancelled run, and of the StopExecution that cancels it


class ExportStatus(StrEnum):
    """A label export as the pipeline sees it, whatever the service calls it (adapters normalise)."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class ModelMetrics(BaseModel):
    """Aggregate evaluation of one model over the held-out set."""

    model: str
    examples: int
    rouge_l: float = Field(description="Mean ROUGE-L F-measure against the human response")
    leak_rate: float = Field(description="Share of answered outputs that repeat a PII value of the source")
    leaks_by_type: dict[str, int] = Field(default_factory=dict)
    errors: int = Field(0, description="Examples the model failed to answer (ROUGE-L 0, not in the leak rate)")
    error_rate: float = Field(0.0, description="Share of examples the model failed to answer")


class ChunkRef(BaseModel):
    """One chunk of a run's held-out set, as the evaluation's Map hands it to a function (every item is a state
    input: kept small)."""

    index: int = Field(ge=0)
    key: str
    examples: int = Field(ge=0)


class DeliveryOutcome(BaseModel):
    """What recording one webhook delivery did."""

    model_config = ConfigDict(frozen=True)
    first: bool = Field(description="False when this delivery id was recorded before (a redelivery)")
    counted: bool = Field(description="True when it added a label to the project's pending count")
    verdict: str = Field(description="trigger_policy.Verdict: why it counted or not")
    pending_labels: int
    active_run_id: str | None = None
