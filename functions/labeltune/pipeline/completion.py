"""Completion by event: the run resumes when the provider says its job finished, not at its next poll.

The state machine waits for the job in one `.waitForTaskToken` state (AwaitFineTune). Its function stores
the state's task token on the run, then looks at the job once (`await_fine_tune`); the provider's event
(OpenAI's fine-tuning webhook, Bedrock's EventBridge job state change) resumes the execution with that
token (`resume_on_job_event`). The state's timeout is the fallback: a lost event costs one fallback interval,
after which the state is entered again with a new token and looks at the job itself.

No wake-up is lost between the two: the function stores its token before it looks, and the provider's
status is final before its event is sent, so either the look sees the job finished (and resumes itself) or
the event finds the token. Both may resume; the second finds the token closed (`resume` is False) and stops.
An event is a hint, never the truth: the job is read back from the provider, and only the run's own job
resumes the run.
"""

from __future__ import annotations

from enum import StrEnum

from labeltune.domain.models import WAIT_TOKEN, FineTuneJob, JobState
from labeltune.errors import UnknownJob
from labeltune.pipeline.fine_tune import check_fine_tune, record_job
from labeltune.ports import FineTuneProvider, RunStore, WorkflowCallbacks

FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED})


class EventOutcome(StrEnum):
    """What an event did, for the log and the webhook's answer (none of them is an error)."""

    RESUMED = "resumed"
    ALREADY_RESUMED = "already_resumed"  # the state's own check (or an earlier copy of the event) was first
    NOT_FINISHED = "not_finished"  # the provider says the job is still running: the event was early or stale
    NOT_OURS = "not_ours"  # a job this stack did not create for a run (another tool, another stack)
    NOT_THE_RUNS_JOB = "not_the_runs_job"  # an extra job of a run (cancelled by the checks), or another provider's
    NOT_WAITING = "not_waiting"  # no token yet: the state's own look, after storing it, sees the job finished


def await_fine_tune(
    run_id: str,
    job_id: str,
    token: str,
    provider: FineTuneProvider,
    runs: RunStore,
    callbacks: WorkflowCallbacks,
) -> FineTuneJob:
    """AwaitFineTune's call, on entering and at every fallback check: store the token where an event finds it,
    look at the job, and resume at once when it has already finished."""
    runs.update_run(run_id, **{WAIT_TOKEN: token})
    job = check_fine_tune(run_id, job_id, provider, runs)
    if job.state in FINISHED:
        callbacks.resume(token, job.model_dump(mode="json"))
    return job


def resume_on_job_event(
    provider_name: str,
    job_id: str,
    provider: FineTuneProvider,
    runs: RunStore,
    callbacks: WorkflowCallbacks,
) -> EventOutcome:
    """A provider's event about `job_id`: resume the run waiting for that job, if it has finished."""
    try:
        job = provider.get_job(job_id)
    except UnknownJob:  # another account's or a deleted job
        return EventOutcome.NOT_OURS
    if job.state not in FINISHED:
        return EventOutcome.NOT_FINISHED
    run = runs.get_run(job.run_id) if job.run_id else None
    if run is None:
        return EventOutcome.NOT_OURS
    if run.get("job_id") != job.job_id or run.get("provider", provider_name) != provider_name:
        return EventOutcome.NOT_THE_RUNS_JOB
    token = run.get(WAIT_TOKEN)
    if not token:
        return EventOutcome.NOT_WAITING
    record_job(str(job.run_id), job, provider, runs)  # as the state's own look would: recorded, extras cancelled
    resumed = callbacks.resume(str(token), job.model_dump(mode="json"))
    return EventOutcome.RESUMED if resumed else EventOutcome.ALREADY_RESUMED
