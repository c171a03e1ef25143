"""The small interfaces the pipeline talks to. Each has one real adapter and a local/emulated one.

The pipeline code (labeltune.pipeline) only sees these, so it is tested with in-memory fakes and
runs unchanged against moto, the OpenAI emulator, or the real services.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from labeltune.domain.models import DeliveryOutcome, ExportStatus, FineTuneJob, ModelEndpoint
from labeltune.domain.predictions import BatchOutcome, Prediction, PredictionsTarget, ReviewOutcome
from labeltune.domain.project_config import Hyperparameters
from labeltune.domain.promotions import ModelPromotion, PromotionChange


class ObjectStore(Protocol):
    """Run artefacts (datasets, evaluation outputs), keyed by run. Large files go through local paths
    so nothing proportional to the data is held in memory."""

    def upload_file(self, key: str, path: Path) -> str:
        """Upload a local file (multipart when large); return the object's URI."""
        ...

    def read_lines(self, key: str) -> Iterator[str]:
        """Stream an object's lines without loading it whole."""
        ...

    def put_json(self, key: str, value: Any) -> str: ...

    def get_json(self, key: str) -> Any: ...

    def put_text(self, key: str, text: str, content_type: str) -> str:
        """Store a small text object (a report page) as UTF-8 with its content type; return its URI."""
        ...

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """A link anyone holding it can GET the object with, for `expires_seconds` (no object check)."""
        ...

    def find_json(self, key: str) -> Any | None:
        """The object's JSON, or None when there is no such object (a marker of work already done)."""
        ...

    def uri(self, key: str) -> str: ...


class RunStore(Protocol):
    """The run records: flat, console-readable attributes keyed by run id."""

    def create_run(self, run_id: str, project_id: str, **attributes: Any) -> bool:
        """Create the run unless it exists; a run whose start failed (error StartFailed) is created afresh.
        True when this call created it."""
        ...

    def update_run(self, run_id: str, **attributes: Any) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def list_runs(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def list_runs_page(
        self, project_id: str, limit: int, after: Mapping[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Up to `limit` of the project's runs newest first, starting after the run whose index key is `after`;
        and the index key of the page's last run when more follow (None on the last page)."""
        ...

    def request_cancel(self, run_id: str, requested_at: str) -> bool:
        """Record `cancel_requested_at` on a run that has not finished and has no cancel recorded yet, in one
        conditional write; True when this call recorded it (False: already asked, finished, or no such run)."""
        ...


class FineTuneProvider(Protocol):
    """A fine-tuning backend (OpenAI, Amazon Bedrock). The run id is carried everywhere the provider keeps a
    name (file names, job metadata or job names), and looked up before anything is created, so a retried
    step never creates a second job."""

    def stage_training_file(self, run_id: str, split: str, uri: str, lines: Iterable[str]) -> str:
        """Make the run's `split` file readable by the provider and return what `create_job` takes for it:
        a provider that reads from S3 takes `uri`; one that keeps its own copy uploads `lines` (read only
        then) and reuses a copy an earlier attempt uploaded."""
        ...

    def find_jobs(self, run_id: str) -> list[FineTuneJob]:
        """Every job carrying this run id, oldest first (the first is the run's; others are extras)."""
        ...

    def create_job(
        self,
        *,
        run_id: str,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: Hyperparameters,
    ) -> FineTuneJob: ...

    def get_job(self, job_id: str) -> FineTuneJob: ...

    def cancel_job(self, job_id: str) -> FineTuneJob:
        """Stop a job nothing will use, so it does not keep training (and billing)."""
        ...

    def delete_run_files(self, run_id: str) -> int:
        """Delete every copy of the run's data the provider keeps (chats with personal data); how many."""
        ...


class ModelServing(Protocol):
    """Makes a tuned model callable for the evaluation, and takes that away when the run ends."""

    def serve(self, run_id: str, tuned_model: str) -> ModelEndpoint:
        """Start serving the run's tuned model (idempotent: a retry finds what the first call started)."""
        ...

    def endpoint(self, endpoint_id: str) -> ModelEndpoint: ...

    def release(self, run_id: str) -> list[str]:
        """Delete whatever serves the run's tuned model (found by the run id); the ids deleted."""
        ...


class ChatModel(Protocol):
    """A chat model to evaluate: one answer per (system, user) pair."""

    def complete(self, model: str, system: str, user: str) -> str: ...


class WorkflowStarter(Protocol):
    """Starts one pipeline execution per run; starting the same run twice starts nothing."""

    def start(self, run_id: str, payload: Mapping[str, Any]) -> bool:
        """True when this call started the execution, False when it already existed."""
        ...

    def status(self, run_id: str) -> str | None:
        """The run's execution status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED), None when none exists."""
        ...


class WorkflowControl(Protocol):
    """What the runs API does to and reads from a run's execution (named by the run id)."""

    def status(self, run_id: str) -> str | None:
        """The run's execution status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED), None when none exists."""
        ...

    def stop(self, run_id: str, error: str, cause: str) -> bool:
        """Stop the execution (an execution that already ended is left as it is); False when there is none."""
        ...

    def describe(self, run_id: str) -> dict[str, Any] | None:
        """{"status", "start_date", "stop_date"} (datetimes, stop_date None while running), None when none exists."""
        ...

    def history(self, run_id: str, max_events: int) -> tuple[list[dict[str, Any]], bool]:
        """The execution's history events oldest first, at most `max_events` of them, and whether more were left
        unread; ([], False) when there is no execution."""
        ...


class WorkflowCallbacks(Protocol):
    """Resumes an execution that waits on a task token (a `.waitForTaskToken` state)."""

    def resume(self, token: str, output: Mapping[str, Any]) -> bool:
        """True when this call resumed the waiting state; False when the token is no longer waited on
        (already resumed, timed out into a fallback check, or the execution ended)."""
        ...


class RunEventBus(Protocol):
    """Where run status changes go for other teams to route (EventBridge's default bus)."""

    def put(self, details: list[tuple[str, dict[str, Any]]]) -> list[bool]:
        """Put one event per (time, detail), at most 10 at once; whether each was accepted, in order."""
        ...


class ExportService(Protocol):
    """An asynchronous label export: start it, look at it later, then stream its rows.

    Labelbox exports can take many minutes, so no Lambda waits on one: the state machine polls `status`.
    """

    def start_export(self, project_id: str) -> str:
        """Start an export of the project's Done rows; return a task id to poll."""
        ...

    def export_status(self, task_id: str) -> ExportStatus: ...

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The rows of a COMPLETE export, one dict per data row, streamed."""
        ...

    def export_errors(self, task_id: str) -> int:
        """How many rows of a COMPLETE export failed to export (they are missing from `iter_export`)."""
        ...


class RowDataFetcher(Protocol):
    """Fetches a data row whose `row_data` is an https URL to a UTF-8 text file."""

    def fetch(self, url: str) -> str:
        """The text; raises RowDataFetchError (with a reason code) on any failure."""
        ...


class ProjectStore(Protocol):
    """Per-project configuration, trigger state and deliveries; every state change is one conditional write."""

    def get_project(self, project_id: str) -> dict[str, Any] | None: ...

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]: ...

    def record_delivery(
        self, project_id: str, delivery_id: str, record: Mapping[str, Any], count_key: str | None
    ) -> DeliveryOutcome:
        """Keep the delivery once per delivery id; with a `count_key`, count it toward the project's next run
        once per run (a key counted since the last claim counts nothing). Raises UnknownProject."""
        ...

    def list_deliveries(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The project's most recent deliveries, newest first."""
        ...

    def claim_run(self, project_id: str, run_id: str, min_pending: int, stale_before: str) -> int | None:
        """Make `run_id` the project's in-flight run if none is (or the one there is older than
        `stale_before`) and at least `min_pending` labels are pending; move the pending labels to the run.
        Returns how many labels the run took (also when `run_id` already holds the claim), None if refused."""
        ...

    def release_run(self, project_id: str, run_id: str, return_labels: int = 0) -> dict[str, Any] | None:
        """Clear the in-flight run if it is `run_id`, giving `return_labels` back to the pending count (a run
        that never started); return the project state after, None if `run_id` did not hold the slot."""
        ...

    def promote_model(self, project_id: str, entry: ModelPromotion) -> PromotionChange:
        """Make `entry` the project's current model and put it first in its bounded history
        (domain.promotions.apply_promotion), in one conditional write: a concurrent promotion is never lost.
        Raises UnknownProject."""
        ...


class WebhookSecrets(Protocol):
    """The secrets Labelbox deliveries are signed with: each project's own, and an opt-in stack-wide one."""

    def for_project(self, project_id: str) -> str | None:
        """The project's own secret (created by `labeltune labelbox connect`), None when it has none."""
        ...

    def shared(self) -> str | None:
        """The stack-wide secret when the stack opted in to it (SharedWebhookSecret=enabled), else None."""
        ...


class PredictionsSink(Protocol):
    """Where a run's tuned answers go for people to compare with theirs: a Labelbox model run. Everything is
    found by name before it is created (the model, the run's model run, each import), so a retried publish
    creates nothing twice."""

    def open_model_run(
        self, project_id: str, model_name: str, run_name: str, classification: str | None
    ) -> PredictionsTarget:
        """Find or create the model (on the project's ontology) and its model run `run_name`, and resolve the
        free-text classification the answers go to (None: the ontology's single one)."""
        ...

    def upload(self, target: PredictionsTarget, batch_name: str, predictions: list[Prediction]) -> BatchOutcome:
        """Add the rows to the model run, import their predictions as `batch_name` and wait for the import
        (TransientError when it is still running: a retry waits for the same import)."""
        ...

    def send_to_review(
        self, target: PredictionsTarget, review_project_id: str, batch_name: str, data_row_ids: list[str]
    ) -> ReviewOutcome:
        """Queue the rows, with the model's predictions, in the review project as the batch `batch_name`."""
        ...
