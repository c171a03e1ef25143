"""Start and check the fine-tuning job: exactly one training job per run, under any timing.

The provider has no idempotency key, so:
- every retry looks the run's jobs up (by the run id in their metadata) before creating anything;
- a create whose outcome is unknown (a timeout: the provider may still create the job after the client
  gave up) fences further creates for CREATE_SETTLE: the step fails with JobCreatePending and the state
  machine looks again minutes later, when the late job is listed;
- a job that appears anyway (a create that landed after the fence) is an extra: every check cancels it and
  records it on the run, so it is never trained on or paid for beyond its first minutes.
A provider with an idempotency key of its own (Bedrock's clientRequestToken) goes through the same steps:
the lookup finds its job, and a repeated create returns the same job.
Copies of the training files a provider keeps carry the run id in their names, so a retried upload reuses
them and the run's end deletes them (pipeline.outcome).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from labeltune.clock import Clock, iso, parse_iso
from labeltune.domain.models import FineTuneJob, JobState, RunStatus
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import JobCreatePending, RunClosed
from labeltune.pipeline.cancel import RunCancelled, cancelled_meanwhile
from labeltune.pipeline.prepare import PreparedDataset
from labeltune.ports import FineTuneProvider, ObjectStore, RunStore

CREATE_SETTLE = timedelta(minutes=3)


def cancel_extra_jobs(
    run_id: str, keep: str, jobs: list[FineTuneJob], provider: FineTuneProvider, runs: RunStore
) -> list[str]:
    """Cancel every job of the run but `keep` that is still training, and record all extras on the run."""
    extras = [job for job in jobs if job.job_id != keep]
    if not extras:
        return []
    cancelled = [provider.cancel_job(job.job_id).job_id for job in extras if job.state is JobState.PENDING]
    run = runs.get_run(run_id) or {}
    known = list(run.get("extra_job_ids") or [])
    runs.update_run(
        run_id,
        extra_job_ids=known + [job.job_id for job in extras if job.job_id not in known],
        extra_jobs_cancelled=sorted({*(run.get("extra_jobs_cancelled") or []), *cancelled}),
    )
    return cancelled


def _stage(provider: FineTuneProvider, store: ObjectStore, run_id: str, split: str, key: str) -> str:
    return provider.stage_training_file(run_id, split, store.uri(key), store.read_lines(key))


def start_fine_tune(
    dataset: PreparedDataset,
    store: ObjectStore,
    provider: FineTuneProvider,
    runs: RunStore,
    base_model: str,
    clock: Clock,
    hyperparameters: Hyperparameters | None = None,
    settle: timedelta = CREATE_SETTLE,
) -> FineTuneJob:
    run_id = dataset.run_id
    jobs = provider.find_jobs(run_id)
    if jobs:
        job = jobs[0]  # the first one created is the run's; any other is an extra
        cancel_extra_jobs(run_id, job.job_id, jobs, provider, runs)
    else:
        run = runs.get_run(run_id) or {}
        attempted = run.get("job_create_attempted_at")
        if attempted and clock() - parse_iso(str(attempted)) < settle:
            raise JobCreatePending(
                f"a job create for run {run_id} at {attempted} got no answer and no job is listed yet; "
                f"looking again before creating another"
            )
        runs.update_run(run_id, provider_contacted=True)  # from here on, the run's end cleans up at the provider
        training_file = _stage(provider, store, run_id, "train", dataset.train_key)
        validation_file = None
        if dataset.counts.get("validation", 0) > 0:
            validation_file = _stage(provider, store, run_id, "validation", dataset.validation_key)
        runs.update_run(run_id, job_create_attempted_at=iso(clock()))
        job = provider.create_job(
            run_id=run_id,
            base_model=base_model,
            training_file=training_file,
            validation_file=validation_file,
            hyperparameters=hyperparameters or Hyperparameters(),
        )
    _undo_if_cancelled(run_id, job, provider, runs)
    try:
        runs.update_run(
            run_id,
            status=RunStatus.TRAINING.value,
            job_id=job.job_id,
            job_status=job.status,
            job_state=job.state.value,
            base_model=job.base_model,
        )
    except RunClosed:  # it ended between the look and this write: its cleanup may not have seen the job
        _undo_if_cancelled(run_id, job, provider, runs)
        raise
    return job


def _undo_if_cancelled(run_id: str, job: FineTuneJob, provider: FineTuneProvider, runs: RunStore) -> None:
    """A job found or created for a run that is being cancelled, or has ended, is cancelled and the run's files at
    the provider deleted: the run's cleanup may have looked for them before they existed (a late create). The run
    record is not moved back to TRAINING."""
    if not cancelled_meanwhile(runs.get_run(run_id)):
        return
    cancelled = [provider.cancel_job(job.job_id).job_id] if job.state is JobState.PENDING else []
    deleted = provider.delete_run_files(run_id)
    run = runs.get_run(run_id) or {}
    runs.update_run(
        run_id,
        late_jobs_cancelled=sorted({*(run.get("late_jobs_cancelled") or []), *cancelled}),
        late_provider_files_deleted=deleted,
    )
    raise RunCancelled(f"run {run_id} was cancelled while its fine-tuning job was being created; job undone")


def check_fine_tune(run_id: str, job_id: str, provider: FineTuneProvider, runs: RunStore) -> FineTuneJob:
    return record_job(run_id, provider.get_job(job_id), provider, runs)


def record_job(run_id: str, job: FineTuneJob, provider: FineTuneProvider, runs: RunStore) -> FineTuneJob:
    """The run's job as the provider just reported it, on the run record; any extra job of the run cancelled."""
    cancel_extra_jobs(run_id, job.job_id, provider.find_jobs(run_id), provider, runs)  # a create that landed late
    update: dict[str, Any] = {"job_status": job.status, "job_state": job.state.value}
    if job.state is JobState.SUCCEEDED:
        update |= {"fine_tuned_model": job.fine_tuned_model, "trained_tokens": job.trained_tokens}
    elif job.state is JobState.FAILED:
        update |= {"job_error_code": job.error_code, "job_error_message": job.error_message}
    runs.update_run(run_id, **update)
    return job
