"""Completion by event: the waiting run resumes exactly once, whichever comes first, the provider's event or the
state's own look, and never for a job that is not the run's."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from labeltune.domain.models import WAIT_TOKEN, FineTuneJob, JobState, public_run
from labeltune.errors import UnknownJob
from labeltune.pipeline.completion import EventOutcome, await_fine_tune, resume_on_job_event
from tests.fakes import InMemoryRunStore, RecordingCallbacks, ScriptedFineTuneProvider

RUN = "run-0123456789abcdef01234567"
JOB = "ftjob-1"


class SwitchedProvider(ScriptedFineTuneProvider):
    """A provider whose jobs finish when the test says so (the order of events is the subject here)."""

    def __init__(self) -> None:
        super().__init__()
        self.switched: dict[str, FineTuneJob] = {}
        self.cancelled: list[str] = []

    def add(self, job_id: str, run_id: str | None) -> None:
        self.switched[job_id] = FineTuneJob(
            job_id=job_id, run_id=run_id, status="running", state=JobState.PENDING, base_model="base"
        )

    def finish(self, job_id: str, state: JobState = JobState.SUCCEEDED) -> None:
        job = self.switched[job_id]
        changes: dict[str, object] = {"status": state.value, "state": state}
        if state is JobState.SUCCEEDED:
            changes |= {"fine_tuned_model": f"ft:base:{job_id}", "trained_tokens": 100}
        else:
            changes |= {"error_code": "invalid_file", "error_message": "line 3: not JSON"}
        self.switched[job_id] = job.model_copy(update=changes)

    def get_job(self, job_id: str) -> FineTuneJob:
        if job_id not in self.switched:
            raise UnknownJob(job_id)
        return self.switched[job_id]

    def find_jobs(self, run_id: str) -> list[FineTuneJob]:
        return [job for job in self.switched.values() if job.run_id == run_id]

    def cancel_job(self, job_id: str) -> FineTuneJob:
        self.cancelled.append(job_id)
        self.switched[job_id] = self.switched[job_id].model_copy(
            update={"status": "cancelled", "state": JobState.FAILED}
        )
        return self.switched[job_id]


@pytest.fixture
def provider() -> SwitchedProvider:
    provider = SwitchedProvider()
    provider.add(JOB, RUN)
    return provider


@pytest.fixture
def runs() -> InMemoryRunStore:
    store = InMemoryRunStore()
    store.create_run(RUN, "proj-1", job_id=JOB, provider="openai")
    return store


def test_a_job_still_training_leaves_the_token_for_its_event(
    provider: SwitchedProvider, runs: InMemoryRunStore
) -> None:
    callbacks = RecordingCallbacks()
    job = await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    assert job.state is JobState.PENDING and callbacks.resumed == []
    assert runs.get_run(RUN)[WAIT_TOKEN] == "t1"

    provider.finish(JOB)
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.RESUMED
    [(token, output)] = callbacks.resumed
    assert token == "t1" and output["state"] == "succeeded" and output["fine_tuned_model"] == f"ft:base:{JOB}"
    run = runs.get_run(RUN)
    assert (run["job_state"], run["fine_tuned_model"], run["trained_tokens"]) == ("succeeded", f"ft:base:{JOB}", 100)


def test_a_job_that_finished_before_the_wait_resumes_at_once(
    provider: SwitchedProvider, runs: InMemoryRunStore
) -> None:
    provider.finish(JOB)
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    assert [token for token, _ in callbacks.resumed] == ["t1"]
    # Its event, arriving now, finds the token closed: nothing happens twice.
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.ALREADY_RESUMED
    assert len(callbacks.resumed) == 1


def test_a_failed_job_resumes_with_the_providers_message(provider: SwitchedProvider, runs: InMemoryRunStore) -> None:
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    provider.finish(JOB, JobState.FAILED)
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.RESUMED
    [(_, output)] = callbacks.resumed
    assert (output["state"], output["error_message"]) == ("failed", "line 3: not JSON")
    assert runs.get_run(RUN)["job_error_message"] == "line 3: not JSON"


def test_an_early_or_stale_event_resumes_nothing(provider: SwitchedProvider, runs: InMemoryRunStore) -> None:
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.NOT_FINISHED
    assert callbacks.resumed == [] and callbacks.open_tokens == {"t1"}


def test_after_a_fallback_timeout_the_event_resumes_the_new_wait(
    provider: SwitchedProvider, runs: InMemoryRunStore
) -> None:
    """The state timed out (its token closed) and was entered again with a new token: the event finds that one."""
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    callbacks.close("t1")
    await_fine_tune(RUN, JOB, callbacks.open_token("t2"), provider, runs, callbacks)
    provider.finish(JOB)
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.RESUMED
    assert [token for token, _ in callbacks.resumed] == ["t2"]


def test_events_about_other_jobs_resume_nothing(provider: SwitchedProvider, runs: InMemoryRunStore) -> None:
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    provider.add("ftjob-extra", RUN)  # a create that landed late: the run's checks cancel it
    provider.add("ftjob-stranger", None)  # not created by labeltune
    provider.add("ftjob-gone", "run-that-does-not-exist")
    for job_id in ("ftjob-extra", "ftjob-stranger", "ftjob-gone"):
        provider.finish(job_id)
    assert resume_on_job_event("openai", "ftjob-extra", provider, runs, callbacks) is EventOutcome.NOT_THE_RUNS_JOB
    assert resume_on_job_event("openai", "ftjob-stranger", provider, runs, callbacks) is EventOutcome.NOT_OURS
    assert resume_on_job_event("openai", "ftjob-gone", provider, runs, callbacks) is EventOutcome.NOT_OURS
    assert resume_on_job_event("openai", "ftjob-never-made", provider, runs, callbacks) is EventOutcome.NOT_OURS
    # The same job id from another provider's event stream is not this run's either.
    provider.finish(JOB)
    assert resume_on_job_event("bedrock", JOB, provider, runs, callbacks) is EventOutcome.NOT_THE_RUNS_JOB
    assert callbacks.resumed == []


def test_an_event_before_the_token_is_stored_is_left_to_the_wait_itself(
    provider: SwitchedProvider, runs: InMemoryRunStore
) -> None:
    provider.finish(JOB)
    callbacks = RecordingCallbacks()
    assert resume_on_job_event("openai", JOB, provider, runs, callbacks) is EventOutcome.NOT_WAITING
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    assert [token for token, _ in callbacks.resumed] == ["t1"]


def _schedules() -> Iterable[tuple[str, ...]]:
    """Every order of: the wait stores its token (store), looks at the job (look), the job finishes (finish), its
    event is handled (event); the wait stores before it looks, and the event is sent after the job finished."""
    for order in itertools.permutations(("store", "look", "finish", "event")):
        if order.index("store") < order.index("look") and order.index("finish") < order.index("event"):
            yield order


@pytest.mark.parametrize("order", list(_schedules()), ids="-".join)
def test_no_order_of_wait_and_event_loses_the_wake_up_or_resumes_twice(order: tuple[str, ...]) -> None:
    provider = SwitchedProvider()
    provider.add(JOB, RUN)
    runs = InMemoryRunStore()
    runs.create_run(RUN, "proj-1", job_id=JOB, provider="openai")
    callbacks = RecordingCallbacks()
    token = callbacks.open_token("t1")
    for step in order:
        if step == "store":
            runs.update_run(RUN, **{WAIT_TOKEN: token})
        elif step == "look":  # await_fine_tune's look, after its store (the store step above, in this order)
            await_fine_tune(RUN, JOB, token, provider, runs, callbacks)
        elif step == "finish":
            provider.finish(JOB)
        else:
            resume_on_job_event("openai", JOB, provider, runs, callbacks)
    assert [t for t, _ in callbacks.resumed] == ["t1"], order


def test_the_api_never_shows_the_token(provider: SwitchedProvider, runs: InMemoryRunStore) -> None:
    callbacks = RecordingCallbacks()
    await_fine_tune(RUN, JOB, callbacks.open_token("t1"), provider, runs, callbacks)
    run = runs.get_run(RUN)
    assert WAIT_TOKEN in run and WAIT_TOKEN not in public_run(run)
    assert public_run(run)["job_id"] == JOB
