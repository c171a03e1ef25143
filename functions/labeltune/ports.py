"""The small interfaces the pipeline talks to. Each has one real adapter and a local/emulated one.

The pipeline code (labeltune.pipeline) only sees these, so it is tested with in-memory fakes and
runs unchanged against moto, the OpenAI emulator, or the real services.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from labeltune.domain.models import FineTuneJob


class LabelSource(Protocol):
    """Where labelled rows come from: one Labelbox export row (a dict) per data row."""

    def iter_rows(self, project_id: str) -> Iterator[dict[str, Any]]: ...


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

    def uri(self, key: str) -> str: ...


class RunStore(Protocol):
    """The run records: flat, console-readable attributes keyed by run id."""

    def create_run(self, run_id: str, project_id: str, **attributes: Any) -> bool:
        """Create the run unless it exists. True when this call created it."""
        ...

    def update_run(self, run_id: str, **attributes: Any) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def list_runs(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]: ...


class FineTuneProvider(Protocol):
    """A fine-tuning backend (OpenAI today). Idempotency rests on `find_job` by run id."""

    def upload_training_file(self, name: str, lines: Iterable[str]) -> str: ...

    def find_job(self, run_id: str) -> FineTuneJob | None: ...

    def create_job(
        self,
        *,
        run_id: str,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        suffix: str,
        hyperparameters: Mapping[str, Any] | None = None,
    ) -> FineTuneJob: ...

    def get_job(self, job_id: str) -> FineTuneJob: ...

    def cancel_job(self, job_id: str) -> FineTuneJob:
        """Stop a job a failed run leaves behind, so it does not keep training (and billing)."""
        ...


class ChatModel(Protocol):
    """A chat model to evaluate: one answer per (system, user) pair."""

    def complete(self, model: str, system: str, user: str) -> str: ...


class WorkflowStarter(Protocol):
    """Starts one pipeline execution per run; starting the same run twice starts nothing."""

    def start(self, run_id: str, payload: Mapping[str, Any]) -> bool:
        """True when this call started the execution, False when it already existed."""
        ...


class ExportService(Protocol):
    """An asynchronous label export: start it, look at it later, then stream its rows.

    Labelbox exports can take many minutes, so no Lambda waits on one: the state machine polls `status`.
    """

    def start_export(self, project_id: str) -> str:
        """Start an export of the project's Done rows; return a task id to poll."""
        ...

    def export_status(self, task_id: str) -> str:
        """IN_PROGRESS, COMPLETE or FAILED."""
        ...

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The rows of a COMPLETE export, one dict per data row, streamed."""
        ...


class RowDataFetcher(Protocol):
    """Fetches a data row whose `row_data` is an https URL to a UTF-8 text file."""

    def fetch(self, url: str) -> str:
        """The text; raises RowDataFetchError (with a reason code) on any failure."""
        ...


class ProjectStore(Protocol):
    """Per-project configuration and trigger state; every state change is one conditional write."""

    def get_project(self, project_id: str) -> dict[str, Any] | None: ...

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]: ...

    def record_events(self, project_id: str, delivery_id: str) -> dict[str, Any]:
        """Count one approval event toward the project's next run, once per delivery id however often it
        is repeated; return the project state. Raises UnknownProject."""
        ...

    def claim_run(self, project_id: str, run_id: str, min_pending: int, stale_before: str) -> int | None:
        """Make `run_id` the project's in-flight run if none is (or the one there is older than
        `stale_before`) and at least `min_pending` events are pending; move the pending events to the run.
        Returns how many events the run took (also when `run_id` already holds the claim), None if refused."""
        ...

    def release_run(self, project_id: str, run_id: str, return_events: int = 0) -> dict[str, Any] | None:
        """Clear the in-flight run if it is `run_id`, giving `return_events` back to the pending count (a run
        that never started); return the project state after, None if `run_id` did not hold the slot."""
        ...
