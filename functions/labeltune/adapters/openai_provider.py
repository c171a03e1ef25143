"""FineTuneProvider and ChatModel on the official `openai` SDK (the real API, or our emulator via base_url).

OpenAI takes no idempotency key, so the run id goes wherever OpenAI keeps a name: in each training file's
filename (`<run id>-train.jsonl`) and in the job's metadata. A retried step looks them up before it creates
anything, and the run's end finds (and deletes, cancels) everything it left at OpenAI the same way.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar, cast

import openai
from openai import OpenAI
from openai.types.fine_tuning import job_create_params

from labeltune.domain.job_state import openai_job_state
from labeltune.domain.models import FineTuneJob
from labeltune.domain.project_config import PROVIDER_HYPERPARAMETERS, Hyperparameters
from labeltune.errors import ProviderRefused, TransientError, UnknownJob

RUN_ID_METADATA_KEY = "labeltune_run_id"
_SUFFIX_UNSAFE = re.compile(r"[^a-z0-9-]")
FILE_PURPOSE: Literal["fine-tune"] = "fine-tune"
_TRANSIENT = (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError)
PERMANENT_RATE_LIMITS = {"insufficient_quota"}  # a 429 that no retry fixes: the account has no credit

P = ParamSpec("P")
T = TypeVar("T")


def _transient_as_retryable(call: Callable[P, T]) -> Callable[P, T]:
    """The SDK already retried twice; what still fails is handed to Step Functions' backoff, except a quota
    that is used up, which waiting does not fix."""

    @wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except openai.RateLimitError as error:
            if getattr(error, "code", None) in PERMANENT_RATE_LIMITS:
                raise ProviderRefused(f"OpenAI: {error.code}: {getattr(error, 'message', error)}") from error
            raise TransientError(f"OpenAI {type(error).__name__}: {getattr(error, 'message', error)}") from error
        except _TRANSIENT as error:
            raise TransientError(f"OpenAI {type(error).__name__}: {getattr(error, 'message', error)}") from error

    return wrapper


def job_suffix(run_id: str) -> str:
    """A short, readable model suffix that ties the fine-tuned model back to its run."""
    return _SUFFIX_UNSAFE.sub("-", run_id.lower())[:40]


def training_file_name(run_id: str, split: str) -> str:
    """The name a training file is uploaded under: the run id first, so the run's files can be found."""
    return f"{run_id}-{split}.jsonl"


def _job(raw: Any) -> FineTuneJob:
    error = raw.error
    return FineTuneJob(
        job_id=raw.id,
        run_id=(raw.metadata or {}).get(RUN_ID_METADATA_KEY),
        status=raw.status,
        state=openai_job_state(raw.status),
        base_model=raw.model,
        fine_tuned_model=raw.fine_tuned_model,
        trained_tokens=raw.trained_tokens,
        error_code=getattr(error, "code", None) if error else None,
        error_message=getattr(error, "message", None) if error else None,
        created_at=getattr(raw, "created_at", None),
    )


class OpenAIFineTuning:
    """Fine-tuning jobs and chat completions through one SDK client."""

    def __init__(self, client: OpenAI, create_timeout_seconds: float = 60.0) -> None:
        self._client = client
        self._create_timeout = create_timeout_seconds

    @property
    def client(self) -> OpenAI:
        """The SDK client, shared with what else talks to OpenAI (webhook verification)."""
        return self._client

    def _run_files(self, prefix: str) -> list[Any]:
        """This run's uploaded files (every page of the listing)."""
        return [f for f in self._client.files.list(purpose=FILE_PURPOSE) if str(f.filename).startswith(prefix)]

    @_transient_as_retryable
    def stage_training_file(self, run_id: str, split: str, uri: str, lines: Iterable[str]) -> str:
        """OpenAI trains on its own copy: upload the lines under the run's file name (or reuse that upload)."""
        name = training_file_name(run_id, split)
        for existing in self._run_files(name):
            if existing.filename == name and existing.status != "error":
                return str(existing.id)  # uploaded by an earlier attempt of this step
        # Spool to disk so a large dataset is streamed, not held, on its way to the API.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            with path.open("w", encoding="utf-8") as out:
                for line in lines:
                    out.write(line.rstrip("\n") + "\n")
            with path.open("rb") as handle:
                return self._client.files.create(file=(name, handle), purpose=FILE_PURPOSE).id

    @_transient_as_retryable
    def find_jobs(self, run_id: str) -> list[FineTuneJob]:
        jobs = [
            _job(raw)
            for raw in self._client.fine_tuning.jobs.list(metadata={RUN_ID_METADATA_KEY: run_id}, limit=100)
            if (raw.metadata or {}).get(RUN_ID_METADATA_KEY) == run_id
        ]
        # The API lists newest first; reversed, and stably sorted by creation time, the oldest comes first.
        return sorted(reversed(jobs), key=lambda job: job.created_at or 0)

    @_transient_as_retryable
    def create_job(
        self,
        *,
        run_id: str,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: Hyperparameters,
    ) -> FineTuneJob:
        chosen = {k: v for k, v in hyperparameters.explicit().items() if k in PROVIDER_HYPERPARAMETERS["openai"]}
        method: job_create_params.Method = {
            "type": "supervised",
            "supervised": {"hyperparameters": cast(Any, chosen)},
        }
        # No SDK retry here: the SDK sends no idempotency key, so re-posting after a lost response could start a
        # second paid job. A failure becomes TransientError; the step's retry looks the run's jobs up first and
        # waits for a create whose outcome is unknown to settle (pipeline.fine_tune).
        raw = self._client.with_options(max_retries=0, timeout=self._create_timeout).fine_tuning.jobs.create(
            model=base_model,
            training_file=training_file,
            validation_file=validation_file or openai.omit,
            suffix=job_suffix(run_id),
            metadata={RUN_ID_METADATA_KEY: run_id},
            method=method,
        )
        return _job(raw)

    @_transient_as_retryable
    def cancel_job(self, job_id: str) -> FineTuneJob:
        return _job(self._client.fine_tuning.jobs.cancel(job_id))

    @_transient_as_retryable
    def get_job(self, job_id: str) -> FineTuneJob:
        try:
            return _job(self._client.fine_tuning.jobs.retrieve(job_id))
        except openai.NotFoundError as error:
            raise UnknownJob(f"OpenAI has no job {job_id}") from error

    @_transient_as_retryable
    def delete_run_files(self, run_id: str) -> int:
        deleted = 0
        for uploaded in self._run_files(f"{run_id}-"):
            try:
                self._client.files.delete(uploaded.id)
            except openai.NotFoundError:
                continue  # deleted meanwhile (a retried cleanup)
            deleted += 1
        return deleted

    @_transient_as_retryable
    def complete(self, model: str, system: str, user: str) -> str:
        response = self._client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            temperature=0,
        )
        return response.choices[0].message.content or ""
