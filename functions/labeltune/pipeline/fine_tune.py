"""Start and check the fine-tuning job. Starting is idempotent: a retry finds the job by run id first."""

from __future__ import annotations

import re
from typing import Any

from labeltune.domain.models import FineTuneJob, JobState, RunStatus
from labeltune.pipeline.prepare import PreparedDataset
from labeltune.ports import FineTuneProvider, ObjectStore, RunStore

_SUFFIX_UNSAFE = re.compile(r"[^a-z0-9-]")


def job_suffix(run_id: str) -> str:
    """A short, readable model suffix that ties the fine-tuned model back to its run."""
    return _SUFFIX_UNSAFE.sub("-", run_id.lower())[:40]


def start_fine_tune(
    dataset: PreparedDataset,
    store: ObjectStore,
    provider: FineTuneProvider,
    runs: RunStore,
    base_model: str,
    hyperparameters: dict[str, Any] | None = None,
) -> FineTuneJob:
    run_id = dataset.run_id
    job = provider.find_job(run_id)
    if job is None:
        training_file = provider.upload_training_file("train.jsonl", store.read_lines(dataset.train_key))
        validation_file = None
        if dataset.counts.get("validation", 0) > 0:
            validation_file = provider.upload_training_file(
                "validation.jsonl", store.read_lines(dataset.validation_key)
            )
        job = provider.create_job(
            run_id=run_id,
            base_model=base_model,
            training_file=training_file,
            validation_file=validation_file,
            suffix=job_suffix(run_id),
            hyperparameters=hyperparameters,
        )
    runs.update_run(
        run_id,
        status=RunStatus.TRAINING.value,
        job_id=job.job_id,
        job_status=job.status,
        base_model=job.base_model,
    )
    return job


def check_fine_tune(run_id: str, job_id: str, provider: FineTuneProvider, runs: RunStore) -> FineTuneJob:
    job = provider.get_job(job_id)
    update: dict[str, Any] = {"job_status": job.status}
    if job.state is JobState.SUCCEEDED:
        update |= {"fine_tuned_model": job.fine_tuned_model, "trained_tokens": job.trained_tokens}
    elif job.state is JobState.FAILED:
        update |= {"job_error_code": job.error_code, "job_error_message": job.error_message}
    runs.update_run(run_id, **update)
    return job
