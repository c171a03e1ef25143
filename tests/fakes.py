"""In-memory implementations of every port, for tests and for experimenting with the pipeline offline.

Why these exist: the pipeline steps (labeltune.pipeline) only talk to the Protocols in labeltune.ports,
so their behaviour can be pinned down without moto, the OpenAI emulator or the network. A fake is only
useful if it fails where the real adapter fails, so each one mirrors its real counterpart's contract
(conditional creates, unknown runs, file ids, "already started") rather than accepting everything.
Each also records what it was asked to do, so tests can assert on side effects (nothing uploaded,
exactly one job created, the starter asked twice).

Nothing here touches AWS or the network; none of it is thread-safe (tests are single-threaded).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from labeltune.adapters.dynamodb_runs import from_dynamo, to_dynamo
from labeltune.clock import Clock, iso, system_clock
from labeltune.domain.job_state import openai_job_state
from labeltune.domain.models import (
    FINISHED_RUN_STATUSES,
    START_FAILED,
    DeliveryOutcome,
    EndpointState,
    ExportStatus,
    FineTuneJob,
    JobState,
    ModelEndpoint,
    status_change_allowed,
)
from labeltune.domain.predictions import (
    BatchOutcome,
    Classification,
    Prediction,
    PredictionsTarget,
    ReviewOutcome,
    choose_classification,
)
from labeltune.domain.project_config import Hyperparameters
from labeltune.domain.promotions import ModelPromotion, ProjectModel, PromotionChange, apply_promotion
from labeltune.errors import ConfigurationError, RowDataFetchError, RunClosed, TransientError, UnknownProject

if TYPE_CHECKING:
    from labeltune.ports import (
        ChatModel,
        ExportService,
        FineTuneProvider,
        ObjectStore,
        ProjectStore,
        RowDataFetcher,
        RunStore,
        WebhookSecrets,
        WorkflowStarter,
    )

__all__ = [
    "DictRowDataFetcher",
    "DictWebhookSecrets",
    "InMemoryObjectStore",
    "InMemoryProjectStore",
    "InMemoryRunStore",
    "RecordingPredictionsSink",
    "RecordingStarter",
    "ScriptedChatModel",
    "ScriptedExportService",
    "ScriptedFineTuneProvider",
]


# --------------------------------------------------------------------------------------------------
# ObjectStore


class InMemoryObjectStore:
    """ObjectStore over a dict of bytes, shaped like S3ObjectStore.

    Objects are kept as bytes and split into lines the way botocore's `iter_lines` does (on \\n, \\r\\n
    and \\r only, never on Unicode separators such as U+2028 that `json.dumps(ensure_ascii=False)`
    leaves inside a line), so a line that would break on S3 breaks here too. Reading a missing key
    raises KeyError at the call, the counterpart of S3's NoSuchKey.
    """

    def __init__(self, bucket: str = "labeltune-test") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}

    def uri(self, key: str) -> str:
        return f"memory://{self.bucket}/{key}"

    def upload_file(self, key: str, path: Path) -> str:
        # Read now: the pipeline uploads from temporary directories that are deleted right after.
        self.objects[key] = Path(path).read_bytes()
        return self.uri(key)

    def read_lines(self, key: str) -> Iterator[str]:
        data = self._get(key)  # outside a generator, so a missing key fails at the call, not on first next()
        # As S3ObjectStore: bytes that are not UTF-8 become U+FFFD, and the converter rejects that row.
        return iter([raw.decode("utf-8", errors="replace") for raw in data.splitlines()])

    def put_json(self, key: str, value: Any) -> str:
        # The same serialisation as S3ObjectStore, so values that would not survive it fail here too.
        self.objects[key] = json.dumps(value, indent=2, sort_keys=True, default=str).encode()
        return self.uri(key)

    def get_json(self, key: str) -> Any:
        return json.loads(self._get(key))

    def put_text(self, key: str, text: str, content_type: str) -> str:
        self.objects[key] = text.encode("utf-8")
        self.content_types[key] = content_type
        return self.uri(key)

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        # Like S3's, signed without looking at the object; the expiry is in the link for tests to assert on.
        return f"https://{self.bucket}.example.invalid/{key}?expires={expires_seconds}"

    def find_json(self, key: str) -> Any | None:
        try:
            return self.get_json(key)
        except KeyError:
            return None

    # Conveniences for tests (not part of the port).

    def put_lines(self, key: str, lines: Iterable[str]) -> str:
        """Store text lines (newline-terminated), e.g. an eval file or an export snapshot."""
        self.objects[key] = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
        return self.uri(key)

    def read_text(self, key: str) -> str:
        return self._get(key).decode("utf-8")

    def read_jsonl(self, key: str) -> list[Any]:
        """Every non-blank line of a JSONL object, parsed."""
        return [json.loads(line) for line in self.read_lines(key) if line.strip()]

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def _get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise KeyError(f"no object {self.uri(key)}") from None


# --------------------------------------------------------------------------------------------------
# RunStore

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _round_trip(item: Mapping[str, Any]) -> dict[str, Any]:
    """What DynamoDB would hand back for `item`: the adapter's conversion, boto3's serialisation, and back.

    Values DynamoDB cannot store (an object, NaN) raise TypeError/Decimal errors here as they would in
    boto3, floats equal to integers come back as int as DynamoRunStore returns them, tuples as lists,
    and the stored copy shares nothing with the caller's objects.
    """
    stored = {name: _SERIALIZER.serialize(to_dynamo(value)) for name, value in item.items()}
    return {name: from_dynamo(_DESERIALIZER.deserialize(value)) for name, value in stored.items()}


class InMemoryRunStore:
    """RunStore over a dict, with the conditional semantics of DynamoRunStore.

    - create_run: put-if-absent; False (and nothing changed) when the run exists; None values are stored.
    - update_run: only on an existing run (KeyError where DynamoDB fails its condition check); None
      values are dropped, not written; `updated_at` is always set.
    - list_runs: the project's runs newest first by `created_at` (the `by_project` index's sort key),
      ties broken by creation order.

    `clock` is injectable so ordering tests do not depend on millisecond timing.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._clock = clock
        self._order: dict[str, int] = {}
        self._sequence = itertools.count()

    def create_run(self, run_id: str, project_id: str, **attributes: Any) -> bool:
        if run_id in self.items and self.items[run_id].get("error") != START_FAILED:
            return False
        stamp = iso(self._clock())
        item = {"run_id": run_id, "project_id": project_id, "created_at": stamp, "updated_at": stamp, **attributes}
        if "status" in attributes:  # as DynamoRunStore: when the status was written
            item["status_changed_at"] = stamp
        self.items[run_id] = _round_trip(item)
        self._order[run_id] = next(self._sequence)
        return True

    def update_run(self, run_id: str, **attributes: Any) -> None:
        if run_id not in self.items:
            raise KeyError(f"no run {run_id!r}: update_run only updates existing runs")
        attributes = {k: v for k, v in attributes.items() if v is not None}
        attributes["updated_at"] = iso(self._clock())
        if "status" in attributes:
            attributes["status_changed_at"] = attributes["updated_at"]
            if not status_change_allowed(self.items[run_id], attributes["status"]):  # as DynamoRunStore
                run = self.items[run_id]
                asked = ", a cancel asked" if run.get("cancel_requested_at") else ""
                raise RunClosed(f"run {run_id} is {run.get('status')}{asked}: not moved to {attributes['status']}")
        self.items[run_id].update(_round_trip(attributes))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        item = self.items.get(run_id)
        return copy.deepcopy(item) if item is not None else None

    def list_runs(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        matching = [item for item in self.items.values() if item["project_id"] == project_id]
        matching.sort(key=lambda item: (str(item["created_at"]), self._order[item["run_id"]]), reverse=True)
        return [copy.deepcopy(item) for item in matching[:limit]]

    def list_runs_page(
        self, project_id: str, limit: int, after: Mapping[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """As DynamoRunStore: newest first, after the run keyed `after` (by index order, so a run deleted
        since still places the page); the last run's index key when more follow."""
        if after is not None and after.get("project_id") != project_id:
            raise ValueError("a page key of another project")
        ordered = self.list_runs(project_id, limit=len(self.items))
        if after is not None:
            position = (str(after["created_at"]), self._order.get(str(after["run_id"]), -1))
            ordered = [run for run in ordered if (str(run["created_at"]), self._order[run["run_id"]]) < position]
        page = ordered[:limit]
        if len(ordered) <= limit:
            return page, None
        last = page[-1]
        return page, {"project_id": project_id, "created_at": str(last["created_at"]), "run_id": str(last["run_id"])}

    def request_cancel(self, run_id: str, requested_at: str) -> bool:
        """The conditional write of DynamoRunStore.request_cancel: once, and never on a finished run."""
        item = self.items.get(run_id)
        if item is None or item.get("cancel_requested_at") or item.get("status") in FINISHED_RUN_STATUSES:
            return False
        item.update(_round_trip({"cancel_requested_at": requested_at, "updated_at": iso(self._clock())}))
        return True


# --------------------------------------------------------------------------------------------------
# FineTuneProvider

DEFAULT_STATUSES: tuple[str, ...] = ("validating_files", "queued", "running", "succeeded")


@dataclass
class UploadedFile:
    file_id: str
    name: str
    lines: list[str]


@dataclass
class _ScriptedJob:
    job_id: str
    run_id: str
    base_model: str
    suffix: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    statuses: tuple[str, ...]
    error_code: str | None
    error_message: str | None
    trained_tokens: int
    polls: int = 0  # get_job calls so far
    cancelled: bool = False

    @property
    def status(self) -> str:
        """The status the last poll reported (the first one before any poll); "cancelled" once cancelled."""
        if self.cancelled:
            return "cancelled"
        return self.statuses[min(max(self.polls - 1, 0), len(self.statuses) - 1)]

    def view(self) -> FineTuneJob:
        state = openai_job_state(self.status)
        succeeded = state is JobState.SUCCEEDED
        failed = self.status == "failed"
        return FineTuneJob(
            job_id=self.job_id,
            run_id=self.run_id,
            status=self.status,
            state=state,
            base_model=self.base_model,
            fine_tuned_model=f"ft:{self.base_model}:labeltune:{self.suffix}:{self.job_id[-8:]}" if succeeded else None,
            trained_tokens=self.trained_tokens if succeeded else None,
            error_code=self.error_code if failed else None,
            error_message=self.error_message if failed else None,
        )


class ScriptedFineTuneProvider:
    """FineTuneProvider whose jobs walk through a scripted sequence of OpenAI statuses.

    Why scripted: the pipeline's hard parts are retries and polling, so tests need to say exactly what
    the provider does: the n-th `get_job` call of a job reports `statuses[n-1]` (the last one repeats);
    `create_job` and `find_jobs` report the job's latest status without moving it. `fail_with` makes jobs end
    in "failed" with an error code and message. `raise_on_next_create` makes the next `create_job` raise
    once, by default *after* the job was created: the lost-response case in which only a lookup by
    run id (there is no idempotency key) keeps a retry from paying for a second job. With `lands_after` the
    job only shows up in `find_jobs` after that many more lookups: a create the provider completes after the
    client timed out.

    Like the API, `create_job` refuses file ids that were never uploaded (or were deleted) and `get_job`
    refuses unknown job ids; an upload under a name already held returns that file. `uploads`,
    `create_calls` and `deleted_files` record every call.
    """

    def __init__(
        self,
        statuses: Sequence[str] = DEFAULT_STATUSES,
        *,
        trained_tokens: int = 4242,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        if not statuses:
            raise ValueError("a job needs at least one status")
        self.statuses: tuple[str, ...] = tuple(statuses)
        self.trained_tokens = trained_tokens
        self.error_code = error_code
        self.error_message = error_message
        self.uploads: list[UploadedFile] = []
        self.deleted_files: list[str] = []
        self.create_calls: list[dict[str, Any]] = []
        self.get_calls: list[str] = []
        self.cancel_calls: list[str] = []
        self.jobs: dict[str, _ScriptedJob] = {}
        self._hidden: dict[str, int] = {}  # job id -> lookups before it is listed
        self._pending_error: tuple[BaseException, bool, int] | None = None
        self._ids = itertools.count(1)

    def fail_with(self, code: str, message: str) -> None:
        """Jobs created from now on run through the scripted non-terminal statuses, then fail."""
        waiting = tuple(s for s in self.statuses if openai_job_state(s) is JobState.PENDING)
        self.statuses = (*waiting, "failed")
        self.error_code, self.error_message = code, message

    def raise_on_next_create(self, error: BaseException, *, job_created: bool = True, lands_after: int = 0) -> None:
        """The next create_job raises `error` once; with job_created the job exists anyway (lost response),
        listed only after `lands_after` more `find_jobs` calls."""
        self._pending_error = (error, job_created, lands_after)

    @property
    def files(self) -> dict[str, UploadedFile]:
        return {upload.file_id: upload for upload in self.uploads if upload.file_id not in self.deleted_files}

    def stage_training_file(self, run_id: str, split: str, uri: str, lines: Iterable[str]) -> str:
        """Like OpenAI: the provider keeps its own copy, uploaded under the run's file name."""
        return self.upload_training_file(f"{run_id}-{split}.jsonl", lines)

    def upload_training_file(self, name: str, lines: Iterable[str]) -> str:
        for held in self.files.values():
            if held.name == name:
                return held.file_id
        file_id = f"file-{next(self._ids):06d}"
        self.uploads.append(UploadedFile(file_id, name, [line.rstrip("\n") for line in lines]))
        return file_id

    def find_jobs(self, run_id: str) -> list[FineTuneJob]:
        listed = []
        for job in self.jobs.values():
            if job.run_id != run_id:
                continue
            if self._hidden.get(job.job_id, 0) > 0:
                self._hidden[job.job_id] -= 1
                continue
            listed.append(job.view())
        return listed  # oldest first, as created

    def create_job(
        self,
        *,
        run_id: str,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: Hyperparameters,
    ) -> FineTuneJob:
        params = hyperparameters.explicit()
        suffix = run_id.lower()[:40]
        call = {
            "run_id": run_id,
            "base_model": base_model,
            "training_file": training_file,
            "validation_file": validation_file,
            "hyperparameters": params,
        }
        self.create_calls.append(call)
        pending, self._pending_error = self._pending_error, None
        if pending is not None and not pending[1]:
            raise pending[0]
        known = self.files
        for file_id in (training_file, validation_file):
            if file_id is not None and file_id not in known:
                raise ValueError(f"invalid file id {file_id!r}: it was never uploaded")
        job = _ScriptedJob(
            job_id=f"ftjob-{next(self._ids):06d}",
            run_id=run_id,
            base_model=base_model,
            suffix=suffix,
            training_file=training_file,
            validation_file=validation_file,
            hyperparameters=params,
            statuses=self.statuses,
            error_code=self.error_code or "scripted_failure",
            error_message=self.error_message or "the scripted job failed",
            trained_tokens=self.trained_tokens,
        )
        self.jobs[job.job_id] = job
        if pending is not None:
            self._hidden[job.job_id] = pending[2]
            raise pending[0]  # the job exists, but the caller never hears about it
        return job.view()

    def get_job(self, job_id: str) -> FineTuneJob:
        self.get_calls.append(job_id)
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(f"no fine-tuning job {job_id!r}")
        job.polls += 1
        return job.view()

    def cancel_job(self, job_id: str) -> FineTuneJob:
        self.cancel_calls.append(job_id)
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(f"no fine-tuning job {job_id!r}")
        if openai_job_state(job.status) is JobState.PENDING:
            job.cancelled = True
        return job.view()

    def delete_run_files(self, run_id: str) -> int:
        mine = [f.file_id for f in self.files.values() if f.name.startswith(f"{run_id}-")]
        self.deleted_files.extend(mine)
        return len(mine)

    def trained(self, run_id: str) -> list[str]:
        """The run's jobs that were not cancelled (what was paid for beyond a moment)."""
        return [j.job_id for j in self.jobs.values() if j.run_id == run_id and not j.cancelled]


# --------------------------------------------------------------------------------------------------
# ModelServing


@dataclass
class ScriptedServing:
    """ModelServing like a Bedrock on-demand deployment: `serve` creates one endpoint per run (a retry finds
    it), whose n-th look reports `states[n-1]` (the last repeats); `release` deletes the run's endpoints.
    `fail_message` is the provider's message of a FAILED endpoint."""

    states: tuple[EndpointState, ...] = (EndpointState.PENDING, EndpointState.READY)
    fail_message: str = "the deployment failed"
    endpoints: dict[str, str] = field(default_factory=dict)  # endpoint id -> run id
    looks: dict[str, int] = field(default_factory=dict)
    serve_calls: list[tuple[str, str]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def serve(self, run_id: str, tuned_model: str) -> ModelEndpoint:
        self.serve_calls.append((run_id, tuned_model))
        endpoint_id = f"deployment-{run_id}"
        self.endpoints.setdefault(endpoint_id, run_id)
        return self.endpoint(endpoint_id)

    def endpoint(self, endpoint_id: str) -> ModelEndpoint:
        if endpoint_id not in self.endpoints:
            raise KeyError(f"no endpoint {endpoint_id!r}")
        self.looks[endpoint_id] = self.looks.get(endpoint_id, 0) + 1
        state = self.states[min(self.looks[endpoint_id], len(self.states)) - 1]
        return ModelEndpoint(
            endpoint_id=endpoint_id,
            model_id=f"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/{endpoint_id}",
            state=state,
            status={"pending": "Creating", "ready": "Active", "failed": "Failed"}[state.value],
            message=self.fail_message if state is EndpointState.FAILED else None,
        )

    def release(self, run_id: str) -> list[str]:
        mine = [endpoint_id for endpoint_id, owner in self.endpoints.items() if owner == run_id]
        for endpoint_id in mine:
            del self.endpoints[endpoint_id]
        self.released.extend(mine)
        return mine


# --------------------------------------------------------------------------------------------------
# ChatModel

Responder = Callable[[str, str, str], str]


def echo(model: str, system: str, user: str) -> str:
    """The default responder: repeats the prompt, i.e. a model that leaks every PII value it was shown."""
    return user


class ScriptedChatModel:
    """ChatModel backed by a function (model, system, user) -> str; the function may raise to simulate
    a refused request (any exception) or an outage (TransientError). `calls` records every request."""

    def __init__(self, respond: Responder = echo) -> None:
        self._respond = respond
        self.calls: list[tuple[str, str, str]] = []

    def complete(self, model: str, system: str, user: str) -> str:
        self.calls.append((model, system, user))
        return self._respond(model, system, user)


# --------------------------------------------------------------------------------------------------
# WorkflowStarter


@dataclass
class RecordingStarter:
    """WorkflowStarter with Step Functions' named-execution rule: the first start of a run id starts it
    (True); every later one starts nothing (False). `calls` keeps every request, `started` the payload
    each run was actually started with."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # run id -> execution status (RUNNING once started)

    def start(self, run_id: str, payload: Mapping[str, Any]) -> bool:
        self.calls.append((run_id, dict(payload)))
        if run_id in self.started:
            return False
        self.started[run_id] = dict(payload)
        self.statuses[run_id] = "RUNNING"
        return True

    def status(self, run_id: str) -> str | None:
        return self.statuses.get(run_id)


@dataclass
class RecordingWorkflow(RecordingStarter):
    """WorkflowControl as Step Functions answers it: a stop ends a RUNNING execution ABORTED and leaves one that
    already ended as it is (AWS answers both alike); `stops` keeps every stop asked, `histories` the events
    a test gives an execution."""

    stops: list[tuple[str, str, str]] = field(default_factory=list)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    started_at: Any = None

    def stop(self, run_id: str, error: str, cause: str) -> bool:
        if run_id not in self.statuses:
            return False
        self.stops.append((run_id, error, cause))
        if self.statuses[run_id] == "RUNNING":
            self.statuses[run_id] = "ABORTED"
        return True

    def describe(self, run_id: str) -> dict[str, Any] | None:
        if run_id not in self.statuses:
            return None
        status = self.statuses[run_id]
        return {"status": status, "start_date": self.started_at, "stop_date": None}

    def history(self, run_id: str, max_events: int) -> tuple[list[dict[str, Any]], bool]:
        events = self.histories.get(run_id, [])
        return events[:max_events], len(events) > max_events


@dataclass
class RecordingCallbacks:
    """WorkflowCallbacks with Step Functions' token rules: a token is waited on from `open_token` until it is
    resumed once or `close`d (the state timed out); a resume of anything else is False. `resumed` keeps every
    successful resume's (token, output)."""

    open_tokens: set[str] = field(default_factory=set)
    resumed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def open_token(self, token: str) -> str:
        self.open_tokens.add(token)
        return token

    def close(self, token: str) -> None:
        self.open_tokens.discard(token)

    def resume(self, token: str, output: Mapping[str, Any]) -> bool:
        if token not in self.open_tokens:
            return False
        self.open_tokens.discard(token)
        self.resumed.append((token, dict(output)))
        return True


@dataclass
class DictWebhookSecrets:
    """WebhookSecrets over a dict of project id -> secret, and an optional stack-wide secret."""

    projects: dict[str, str] = field(default_factory=dict)
    shared_secret: str | None = None

    def for_project(self, project_id: str) -> str | None:
        return self.projects.get(project_id)

    def shared(self) -> str | None:
        return self.shared_secret


# --------------------------------------------------------------------------------------------------
# ProjectStore, ExportService, RowDataFetcher


class InMemoryProjectStore:
    """ProjectStore with DynamoProjectStore's conditional semantics, made atomic by one lock so
    concurrency tests exercise the same "exactly one claim wins" and "a label counts once per run" rules
    DynamoDB enforces."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[tuple[str, str], dict[str, Any]] = {}
        self.count_markers: set[tuple[str, int, str]] = set()
        self._clock = clock
        self._sequence = itertools.count()
        self._lock = threading.Lock()

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get(project_id)
            return copy.deepcopy(item) if item is not None else None

    def put_config(self, project_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            now = iso(self._clock())
            item = self.items.setdefault(project_id, {"project_id": project_id, "created_at": now, "pending_labels": 0})
            item.update(config=_round_trip(dict(config)), updated_at=now)
            return copy.deepcopy(item)

    def record_delivery(
        self, project_id: str, delivery_id: str, record: Mapping[str, Any], count_key: str | None
    ) -> DeliveryOutcome:
        with self._lock:
            item = self.items.get(project_id)
            if item is None:
                raise UnknownProject(project_id)
            first = (project_id, delivery_id) not in self.deliveries
            counted = False
            verdict = str(record.get("verdict"))
            if first and count_key is not None:
                marker = (project_id, int(item.get("run_generation", 0)), count_key)
                if marker in self.count_markers:
                    verdict = "already_counted"
                else:
                    self.count_markers.add(marker)
                    item["pending_labels"] = item.get("pending_labels", 0) + 1
                    item["last_event_at"] = iso(self._clock())
                    counted, verdict = True, "counted"
            elif not first:
                verdict = "already_counted" if count_key is not None else verdict
            if first:
                self.deliveries[(project_id, delivery_id)] = _round_trip(
                    {
                        **{k: v for k, v in record.items() if v is not None},
                        "project_id": project_id,
                        "delivery_id": delivery_id,
                        "received_at": iso(self._clock()),
                        "verdict": verdict,
                        "counted": counted,
                        "_order": next(self._sequence),
                    }
                )
            return DeliveryOutcome(
                first=first,
                counted=counted,
                verdict=verdict,
                pending_labels=int(item.get("pending_labels", 0)),
                active_run_id=item.get("active_run_id"),
            )

    def list_deliveries(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            mine = [d for (p, _), d in self.deliveries.items() if p == project_id]
            mine.sort(key=lambda d: (d["received_at"], d["_order"]), reverse=True)
            return [{k: v for k, v in d.items() if k != "_order"} for d in mine[:limit]]

    def claim_run(self, project_id: str, run_id: str, min_pending: int, stale_before: str) -> int | None:
        with self._lock:
            item = self.items.get(project_id)
            if item is None:
                return None
            free = "active_run_id" not in item or str(item.get("active_run_started_at", "")) < stale_before
            if free and item.get("pending_labels", 0) >= min_pending:
                item.update(
                    active_run_id=run_id,
                    active_run_started_at=iso(self._clock()),
                    active_run_labels=item.get("pending_labels", 0),
                    pending_labels=0,
                    last_run_id=run_id,
                    run_generation=int(item.get("run_generation", 0)) + 1,
                )
                return int(item["active_run_labels"])
            return int(item.get("active_run_labels", 0)) if item.get("active_run_id") == run_id else None

    def release_run(self, project_id: str, run_id: str, return_labels: int = 0) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get(project_id)
            if item is None or item.get("active_run_id") != run_id:
                return None
            item["pending_labels"] = item.get("pending_labels", 0) + return_labels
            for key in ("active_run_id", "active_run_started_at", "active_run_labels"):
                item.pop(key, None)
            item["last_run_finished_at"] = iso(self._clock())
            return copy.deepcopy(item)

    def promote_model(self, project_id: str, entry: ModelPromotion) -> PromotionChange:
        with self._lock:
            item = self.items.get(project_id)
            if item is None:
                raise UnknownProject(project_id)
            after, change = apply_promotion(ProjectModel.of(item), entry)
            if change.changed:
                item.update(_round_trip(after.attributes()))
            return change


@dataclass
class ScriptedExportService:
    """ExportService over fixed rows: `statuses` are reported in turn (the last repeats)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    statuses: Sequence[str] = ("COMPLETE",)
    started: list[str] = field(default_factory=list)
    checks: int = 0
    errors: int = 0  # rows that failed to export

    def export_errors(self, task_id: str) -> int:
        return self.errors

    def start_export(self, project_id: str) -> str:
        self.started.append(project_id)
        return f"task-{len(self.started)}"

    def export_status(self, task_id: str) -> ExportStatus:
        status = self.statuses[min(self.checks, len(self.statuses) - 1)]
        self.checks += 1
        return ExportStatus(status)

    def iter_export(self, task_id: str) -> Iterator[dict[str, Any]]:
        yield from copy.deepcopy(self.rows)


@dataclass
class DictRowDataFetcher:
    """RowDataFetcher over a dict of url -> text; unknown urls fail with `row_data_fetch_failed`."""

    pages: dict[str, str] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    def fetch(self, url: str) -> str:
        self.fetched.append(url)
        if url not in self.pages:
            raise RowDataFetchError("row_data_fetch_failed", f"no page for {url}")
        return self.pages[url]


if TYPE_CHECKING:  # a type checker verifies here that each fake satisfies its Protocol
    _object_store: ObjectStore = InMemoryObjectStore()
    _run_store: RunStore = InMemoryRunStore()
    _provider: FineTuneProvider = ScriptedFineTuneProvider()
    _chat: ChatModel = ScriptedChatModel()
    _starter: WorkflowStarter = RecordingStarter()
    _secrets: WebhookSecrets = DictWebhookSecrets()
    _projects: ProjectStore = InMemoryProjectStore()
    _exports: ExportService = ScriptedExportService()
    _fetcher: RowDataFetcher = DictRowDataFetcher()


# --------------------------------------------------------------------------------------------------
# PredictionsSink


@dataclass
class RecordingPredictionsSink:
    """PredictionsSink in memory, with the Labelbox adapter's contract: the model and each model run are found
    by name before one is created, an import is found by its batch name (and not sent again), the classification
    is chosen from `ontology` as the adapter chooses it, and Labelbox refuses the rows in `refuse`."""

    ontology: list[Classification] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # data row ids whose prediction Labelbox refuses
    running: set[str] = field(default_factory=set)  # batch names still importing at the next look (once)
    models: dict[str, str] = field(default_factory=dict)  # name -> model id
    model_runs: dict[tuple[str, str], str] = field(default_factory=dict)  # (model id, run name) -> model run id
    imports: dict[str, list[Prediction]] = field(default_factory=dict)  # batch name -> predictions sent
    reviews: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (project, batch name, row ids)

    def open_model_run(
        self, project_id: str, model_name: str, run_name: str, classification: str | None
    ) -> PredictionsTarget:
        choice = choose_classification(self.ontology, classification)
        if choice.classification is None:
            raise ConfigurationError(f"predictions for project {project_id}: {choice.problem}")
        model_id = self.models.setdefault(model_name, f"model-{len(self.models) + 1}")
        model_run_id = self.model_runs.setdefault((model_id, run_name), f"model-run-{len(self.model_runs) + 1}")
        return PredictionsTarget(
            run_name=run_name,
            model_id=model_id,
            model_run_id=model_run_id,
            classification_name=choice.classification.name,
            feature_schema_id=choice.classification.feature_schema_id,
        )

    def upload(self, target: PredictionsTarget, batch_name: str, predictions: list[Prediction]) -> BatchOutcome:
        sent = self.imports.setdefault(batch_name, list(predictions))  # found by name: not sent twice
        if batch_name in self.running:
            self.running.discard(batch_name)
            raise TransientError(f"import {batch_name} still running")
        failed = tuple(p.data_row_id for p in sent if p.data_row_id in self.refuse)
        messages = tuple(f"{row}: DataRowNotFound: no such data row" for row in failed)[:5]
        return BatchOutcome(uploaded=len(sent) - len(failed), failed_data_row_ids=failed, messages=messages)

    def send_to_review(
        self, target: PredictionsTarget, review_project_id: str, batch_name: str, data_row_ids: list[str]
    ) -> ReviewOutcome:
        self.reviews.append((review_project_id, batch_name, list(data_row_ids)))
        return ReviewOutcome(sent=len(data_row_ids))

    @property
    def uploaded_rows(self) -> list[str]:
        return [p.data_row_id for batch in self.imports.values() for p in batch]


if TYPE_CHECKING:
    from labeltune.ports import PredictionsSink

    _predictions: PredictionsSink = RecordingPredictionsSink()
