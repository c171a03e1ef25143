"""Everything the emulator remembers (files, jobs, fine-tuned models), behind one lock.

The HTTP server is threaded, so every public method takes the lock and returns plain dicts
(snapshots), never live records.

Two hooks let the server react to jobs without polling them: `on_job_created` (wake the lifecycle
thread, which calls `advance_due`) and `on_job_finished` (emit the webhook event). Both are called
with the lock held, so no reader can see a terminal status before its event exists; they must be
quick and must not call back into the state.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labeltune_tools.emulator import training
from labeltune_tools.emulator.behaviour import NearestExampleModel
from labeltune_tools.emulator.catalog import BASE_MODELS, resolve_base
from labeltune_tools.emulator.errors import ApiError, invalid_request, not_found
from labeltune_tools.emulator.jobs import FT_MODEL_OWNER, ORGANIZATION_ID, Job, JobRequest, new_id

log = logging.getLogger(__name__)

JobFinished = Callable[[str, str, float], None]
"""`on_job_finished(job_id, status, at)`: status is succeeded, failed or cancelled; `at` the transition time."""

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")
MAX_PAGE = 100
MAX_FILES_PAGE = 10_000  # `GET /v1/files` pages up to 10,000 files, and that is its default
FILE_ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class StoredFile:
    """An uploaded (or job-produced) file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    expires_at: int | None

    def to_api(self) -> dict[str, Any]:
        """The `OpenAIFile` schema (`status` is deprecated but still required by it)."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at
        return body


@dataclass(frozen=True)
class FineTunedModel:
    """A model produced by a succeeded job."""

    id: str
    created: int
    base: str
    behaviour: NearestExampleModel

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": ORGANIZATION_ID,
            "shutdown_date": BASE_MODELS[self.base].shutdown_date,
        }


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """Cursor pagination as OpenAI does it: newest first, `after` is the last id already seen."""
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


def _file_page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """`ListFilesResponse`: a cursor page that also names its first and last ids.

    The spec types both as strings; an empty page has none, and they are null there, as the spec's
    other cursor lists declare (`anyOf: [string, null]`).
    """
    page = _page(items, after, limit)
    data = page["data"]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": page["has_more"],
    }


def check_limit(raw: str | None, default: int, maximum: int = MAX_PAGE) -> int:
    """The `limit` query parameter: an integer 1..maximum (100 for most lists)."""
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_request(f"Invalid 'limit': {raw!r} is not an integer.", param="limit") from None
    if not 1 <= limit <= maximum:
        raise invalid_request(f"Invalid 'limit': must be between 1 and {maximum}.", param="limit")
    return limit


class EmulatorState:
    """Files, jobs and models of one emulator instance."""

    def __init__(self, *, job_duration_seconds: float, clock: Callable[[], float] = time.time) -> None:
        if job_duration_seconds < 0:
            raise ValueError("job_duration_seconds must be >= 0")
        self.job_duration_seconds = job_duration_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._files: dict[str, StoredFile] = {}
        self._jobs: dict[str, Job] = {}
        self._models: dict[str, FineTunedModel] = {}
        self.on_job_created: Callable[[], None] | None = None
        self.on_job_finished: JobFinished | None = None

    def now(self) -> float:
        """The emulator's clock (wall time unless a test injected another)."""
        return self._clock()

    # -- files ---------------------------------------------------------------------------------

    def add_file(
        self, *, filename: str, purpose: str, content: bytes, expires_after: int | None = None
    ) -> dict[str, Any]:
        if purpose not in FILE_PURPOSES:
            raise invalid_request(
                f"Invalid 'purpose': {purpose!r}. Expected one of {', '.join(FILE_PURPOSES)}.", param="purpose"
            )
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise invalid_request("Invalid file format for Fine-Tuning API. Must be .jsonl", param="file")
        return self._store_file(filename, purpose, content, expires_after).to_api()

    def _store_file(self, filename: str, purpose: str, content: bytes, expires_after: int | None) -> StoredFile:
        now = int(self._clock())
        stored = StoredFile(
            id=new_id("file-", 22),
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=now,
            expires_at=now + expires_after if expires_after is not None else None,
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def get_file(self, file_id: str) -> StoredFile:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise _no_such_file(file_id)
        return stored

    def list_files(self, *, purpose: str | None, order: str, after: str | None, limit: int) -> dict[str, Any]:
        """`GET /v1/files`: by `created_at` (`order` asc or desc, ties in upload order), `after` a cursor."""
        with self._lock:
            held = [stored.to_api() for stored in self._files.values()]
        if purpose is not None:
            held = [item for item in held if item["purpose"] == purpose]
        held.sort(key=lambda item: int(item["created_at"]))  # stable: upload order within a second
        if order == "desc":
            held.reverse()
        return _file_page(held, after, limit)

    def delete_file(self, file_id: str) -> dict[str, Any]:
        """`DELETE /v1/files/{id}`: gone from list, retrieve and content; jobs keep what they read."""
        with self._lock:
            if self._files.pop(file_id, None) is None:
                raise _no_such_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def files(self, *, purpose: str | None = None) -> list[dict[str, Any]]:
        """Test helper: the files held now (`OpenAIFile` dicts, oldest first), e.g. to assert none is left.

        Job result files (purpose `fine-tune-results`) are held too, as on api.openai.com.
        """
        with self._lock:
            return [stored.to_api() for stored in self._files.values() if purpose is None or stored.purpose == purpose]

    # -- jobs ----------------------------------------------------------------------------------

    def _fine_tunable(self, model: str) -> tuple[str, str]:
        """(model as the job reports it, base snapshot) for a base model, alias or own fine-tune."""
        base = resolve_base(model)
        if base is not None:
            return base.snapshot, base.snapshot
        self._advance_all()
        tuned = self._models.get(model)
        if tuned is not None:
            return model, tuned.base
        raise invalid_request(
            f"Model {model} is not available for fine-tuning or does not exist.",
            param="model",
            code="model_not_available",
        )

    def _check_job_file(self, file_id: str, param: str) -> None:
        stored = self._files.get(file_id)
        if stored is None:
            raise invalid_request(f"invalid {param}: {file_id}", param=param)
        if stored.purpose != "fine-tune":
            raise invalid_request(
                f"File {file_id} has purpose {stored.purpose!r}; fine-tuning needs purpose 'fine-tune'.",
                param=param,
            )

    def create_job(self, request: JobRequest) -> dict[str, Any]:
        with self._lock:
            model, snapshot = self._fine_tunable(request.model)
            self._check_job_file(request.training_file, "training_file")
            if request.validation_file is not None:
                self._check_job_file(request.validation_file, "validation_file")
                if request.validation_file == request.training_file:
                    raise invalid_request(
                        "validation_file must be different from training_file.", param="validation_file"
                    )
            job = Job(
                id=new_id("ftjob-"),
                model=model,
                base_snapshot=snapshot,
                created=self._clock(),
                duration=self.job_duration_seconds,
                training_file=request.training_file,
                validation_file=request.validation_file,
                training_content=self._files[request.training_file].content,
                validation_content=(
                    self._files[request.validation_file].content if request.validation_file is not None else None
                ),
                suffix=request.suffix,
                seed=request.seed if request.seed is not None else random.randrange(2**31),
                metadata=request.metadata,
                hyperparameters=request.hyperparameters,
                integrations=request.integrations,
            )
            job.add_event(job.created, f"Created fine-tuning job: {job.id}")
            self._jobs[job.id] = job
            self._advance(job, self._clock())
            if self.on_job_created is not None:
                self.on_job_created()
            return job.to_api()

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Could not find fine-tune: {job_id}", param="fine_tune_id", code="fine_tune_not_found")
        self._advance(job, self._clock())
        return job

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            return self._job(job_id).to_api()

    def list_jobs(
        self, *, after: str | None, limit: int, metadata: dict[str, str] | None, null_metadata: bool
    ) -> dict[str, Any]:
        """Newest first; `metadata` keeps jobs having all those pairs, `null_metadata` jobs having none."""
        with self._lock:
            self._advance_all()
            jobs = list(reversed(self._jobs.values()))
        if null_metadata:
            jobs = [job for job in jobs if job.metadata is None]
        elif metadata:
            jobs = [
                job
                for job in jobs
                if job.metadata is not None and all(job.metadata.get(k) == v for k, v in metadata.items())
            ]
        with self._lock:
            return _page([job.to_api() for job in jobs], after, limit)

    def list_events(self, job_id: str, *, after: str | None, limit: int) -> dict[str, Any]:
        with self._lock:
            events = [dict(event) for event in reversed(self._job(job_id).events)]
        return _page(events, after, limit)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._job(job_id)
            if job.terminal:
                raise invalid_request(
                    f"Job {job_id} has already finished with status {job.status!r} and cannot be cancelled.",
                    param="fine_tuning_job_id",
                )
            now = self._clock()
            job.status = "cancelled"
            job.finished_at = int(now)
            job.add_event(now, "Fine-tuning job cancelled")
            self._finished(job, now)
            return job.to_api()

    def fail_job(self, job_id: str, *, code: str, message: str, param: str | None = None) -> dict[str, Any]:
        """Force a not-yet-finished job to `failed` (a test helper for failure paths)."""
        with self._lock:
            job = self._job(job_id)
            if job.terminal:
                raise ValueError(f"job {job_id} already finished with status {job.status!r}")
            self._fail(job, self._clock(), code=code, message=message, param=param)
            return job.to_api()

    # -- lifecycle -----------------------------------------------------------------------------

    def advance_due(self) -> float | None:
        """Advance every job to now; seconds until the next transition is due (None: every job is finished).

        What the server's lifecycle thread calls, so that jobs finish (and their webhooks fire) on time
        even when nobody reads them. Statuses stay a pure function of time: a read would have applied
        the same transitions at the same timestamps.
        """
        with self._lock:
            now = self._clock()
            self._advance_all()
            ends = [end for job in self._jobs.values() if (end := job.phase_end()) is not None]
        return max(0.0, min(ends) - now) if ends else None

    def _advance_all(self) -> None:
        now = self._clock()
        for job in self._jobs.values():
            self._advance(job, now)

    def _advance(self, job: Job, now: float) -> None:
        """Apply every status transition whose time has come, each at its own timestamp."""
        while not job.terminal:
            end = job.phase_end()
            if end is None or now < end:
                return
            if job.status == "validating_files":
                self._finish_validation(job, end)
            elif job.status == "queued":
                job.status = "running"
                job.add_event(end, "Fine-tuning job started")
            else:
                self._succeed(job, end)

    def _fail(self, job: Job, at: float, *, code: str, message: str, param: str | None) -> None:
        job.status = "failed"
        job.error = {"code": code, "message": message, "param": param}
        job.finished_at = int(at)
        job.add_event(at, message, level="error")
        self._finished(job, at)

    def _finished(self, job: Job, at: float) -> None:
        """Report a terminal transition; a broken listener is logged, never turned into an API error."""
        if self.on_job_finished is None:
            return
        try:
            self.on_job_finished(job.id, job.status, at)
        except Exception:
            log.exception("on_job_finished failed for %s (%s)", job.id, job.status)

    def _finish_validation(self, job: Job, at: float) -> None:
        # The content read at creation: a file deleted since then does not break the job.
        checked = training.check_file(job.training_content)
        if checked.error:
            message = f"The job failed due to an invalid training file. {checked.error}"
            self._fail(job, at, code="invalid_training_file", message=message, param="training_file")
            return
        if job.validation_content is not None:
            validation = training.check_file(job.validation_content, min_examples=1, label="Validation file")
            if validation.error:
                message = f"The job failed due to an invalid validation file. {validation.error}"
                self._fail(job, at, code="invalid_validation_file", message=message, param="validation_file")
                return
        job.examples = checked.examples
        n = len(checked.examples)
        resolved = {
            "n_epochs": training.default_epochs(n),
            "batch_size": training.default_batch_size(n),
            "learning_rate_multiplier": training.DEFAULT_LEARNING_RATE_MULTIPLIER,
        }
        job.hyperparameters = {
            name: resolved[name] if value == "auto" else value for name, value in job.hyperparameters.items()
        }
        job.status = "queued"
        job.add_event(at, "Files validated, moving job to queued state")

    def _succeed(self, job: Job, at: float) -> None:
        short = job.id[-8:]
        name = f"ft:{job.base_snapshot}:{FT_MODEL_OWNER}:{job.suffix or ''}:{short}"
        epochs = int(job.hyperparameters["n_epochs"])
        # Approximate (see training.approx_tokens): tokens of the training file times the epochs.
        job.trained_tokens = sum(example.tokens for example in job.examples) * epochs
        steps = math.ceil(len(job.examples) * epochs / int(job.hyperparameters["batch_size"]))
        metrics = self._store_file("step_metrics.csv", "fine-tune-results", _step_metrics(steps), None)
        job.result_files = [metrics.id]
        job.fine_tuned_model = name
        job.status = "succeeded"
        job.finished_at = int(at)
        self._models[name] = FineTunedModel(
            id=name, created=int(at), base=job.base_snapshot, behaviour=NearestExampleModel(job.examples)
        )
        job.add_event(at, f"The job has successfully completed. New fine-tuned model created: {name}")
        self._finished(job, at)

    # -- models --------------------------------------------------------------------------------

    def list_models(self) -> dict[str, Any]:
        with self._lock:
            self._advance_all()
            tuned = [model.to_api() for model in self._models.values()]
        return {"object": "list", "data": [model.to_api() for model in BASE_MODELS.values()] + tuned}

    def get_model(self, model_id: str) -> dict[str, Any]:
        base = resolve_base(model_id)
        if base is not None:
            return base.to_api()
        return self.fine_tuned(model_id).to_api()

    def fine_tuned(self, model_id: str) -> FineTunedModel:
        """The fine-tuned model of a succeeded job, or the 404 OpenAI returns for unknown models."""
        with self._lock:
            self._advance_all()
            tuned = self._models.get(model_id)
        if tuned is None:
            raise model_not_found(model_id)
        return tuned


def _no_such_file(file_id: str) -> ApiError:
    """The 404 OpenAI returns for an unknown (or deleted) file id."""
    return not_found(f"No such File object: {file_id}", param="id")


def model_not_found(model_id: str) -> ApiError:
    """The 404 OpenAI returns for a model that does not exist or is not yours."""
    return not_found(f"The model `{model_id}` does not exist or you do not have access to it.", code="model_not_found")


def _step_metrics(steps: int) -> bytes:
    """A small, deterministic stand-in for OpenAI's step_metrics.csv result file (no real training)."""
    rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for step in range(1, max(1, steps) + 1):
        progress = step / max(1, steps)
        rows.append(f"{step},{2.0 * (1 - 0.8 * progress):.4f},{0.5 + 0.45 * progress:.4f},,")
    return ("\n".join(rows) + "\n").encode()
