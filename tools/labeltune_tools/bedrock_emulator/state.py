"""Everything the Bedrock emulator holds (customization jobs, custom models, deployments), behind one lock.

Status moves with the clock: a job is `InProgress` for `job_duration_seconds` (validation for the first
20%, data processing to 40%, then training) and then `Completed`, or `Failed` at the end of validation
when its data is bad. A deployment is `Creating` for `deployment_duration_seconds`, then `Active`.
`tick()` applies whatever is due; every public method ticks first, and the server also ticks on a
timer so state change events go out when they are due, not when someone next reads.

Methods return plain dicts shaped as the API's responses (snapshots, never live records).
"""

from __future__ import annotations

import json
import math
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from labeltune_tools.bedrock_emulator import catalog
from labeltune_tools.bedrock_emulator.catalog import HYPERPARAMETERS, NovaModel
from labeltune_tools.bedrock_emulator.dataset import DatasetCheck, check_dataset
from labeltune_tools.bedrock_emulator.errors import conflict, not_found, validation
from labeltune_tools.bedrock_emulator.events import job_state_change_event
from labeltune_tools.emulator.behaviour import NearestExampleModel
from labeltune_tools.emulator.judge import base_reply
from labeltune_tools.emulator.training import Example

JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
JOB_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# (statusDetails key, start, end) as fractions of the job's duration.
PHASES = (("validationDetails", 0.0, 0.2), ("dataProcessingDetails", 0.2, 0.4), ("trainingDetails", 0.4, 1.0))
VALIDATION_END = PHASES[0][2]
_ID_ALPHABET = string.ascii_lowercase + string.digits


class DataUnavailable(Exception):
    """The training or validation data could not be read (the job fails with this message)."""


DataReader = Callable[[str], bytes]
Publish = Callable[[dict[str, Any]], None]


def new_id() -> str:
    """The 12-character id at the end of Bedrock ARNs."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def iso(epoch: float) -> str:
    """A timestamp as Bedrock sends it: ISO 8601, UTC, milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fingerprint(params: dict[str, Any]) -> str:
    """The request minus its idempotency token: equal fingerprints are "the same request"."""
    return json.dumps({k: v for k, v in params.items() if k != "clientRequestToken"}, sort_keys=True, default=str)


@dataclass
class Job:
    """A model customization job and its timeline."""

    job_id: str
    arn: str
    name: str
    model: NovaModel
    base_model_arn: str
    custom_model_name: str
    custom_model_arn: str
    role_arn: str
    client_token: str | None
    fingerprint: str
    hyperparameters: dict[str, str]
    training_uri: str
    validation_uris: list[str]
    output_uri: str
    vpc_config: dict[str, Any] | None
    created: float
    duration: float
    examples: tuple[Example, ...]
    data_error: str | None
    status: str = "InProgress"
    last_modified: float = 0.0
    end_time: float | None = None
    failure_message: str | None = None
    stop_requested: float | None = None
    stop_phase: int = 0
    failed_phase: int = 0

    def phase_at(self, when: float) -> int:
        fraction = (when - self.created) / self.duration if self.duration > 0 else 1.0
        return next((index for index, (_, _, end) in enumerate(PHASES) if fraction < end), len(PHASES) - 1)


@dataclass
class CustomModel:
    """The model a completed job produced, and the stand-in that answers for it."""

    arn: str
    name: str
    job: Job
    created: float
    behaviour: NearestExampleModel
    training_loss: float
    validation_losses: list[float]


@dataclass
class Deployment:
    """An on-demand deployment of a custom model."""

    deployment_id: str
    arn: str
    name: str
    model: CustomModel
    description: str | None
    client_token: str | None
    fingerprint: str
    created: float
    duration: float
    status: str = "Creating"
    last_updated: float = 0.0
    failure_message: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)


def _synthetic_loss(examples: int, epochs: int, offset: float = 0.0) -> float:
    """A plausible, deterministic final loss (more data and epochs, lower loss); not a real metric."""
    return round(0.15 + offset + 1.2 / (1.0 + math.log1p(examples * epochs)), 6)


class BedrockState:
    """Jobs, custom models and deployments of one emulator."""

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        job_duration_seconds: float,
        deployment_duration_seconds: float,
        stop_duration_seconds: float,
        read_data: DataReader | None,
        publish: Publish,
        event_statuses: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("job_duration_seconds", job_duration_seconds),
            ("deployment_duration_seconds", deployment_duration_seconds),
            ("stop_duration_seconds", stop_duration_seconds),
        ):
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0")
        self.region = region
        self.account_id = account_id
        self.job_duration_seconds = job_duration_seconds
        self.deployment_duration_seconds = deployment_duration_seconds
        self.stop_duration_seconds = stop_duration_seconds
        self.event_statuses = event_statuses
        self._read_data = read_data
        self._publish = publish
        self._clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # by ARN, in creation order
        self._job_tokens: dict[str, str] = {}
        self._models: dict[str, CustomModel] = {}  # by ARN
        self._deployments: dict[str, Deployment] = {}  # by ARN
        self._deployment_tokens: dict[str, str] = {}
        self._lifecycles: dict[str, dict[str, Any]] = {}  # by model id; unlisted ids are ACTIVE

    # -- time ------------------------------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[float]:
        """Hold the lock with everything due applied; yields the time of this view."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            yield now

    def tick(self) -> None:
        """Apply every transition that is due (the server calls this on a timer)."""
        with self._session():
            pass

    def _advance(self, now: float) -> None:
        for job in self._jobs.values():
            if job.status == "Stopping":
                assert job.stop_requested is not None
                due = job.stop_requested + self.stop_duration_seconds
                if now >= due:
                    self._set_job_status(job, "Stopped", due)
            elif job.status == "InProgress":
                failing_at = job.created + VALIDATION_END * job.duration
                if job.data_error is not None and now >= failing_at:
                    job.failure_message = job.data_error
                    job.failed_phase = 0
                    self._set_job_status(job, "Failed", failing_at)
                elif job.data_error is None and now >= job.created + job.duration:
                    self._complete(job, job.created + job.duration)
        for deployment in self._deployments.values():
            due = deployment.created + deployment.duration
            if deployment.status == "Creating" and now >= due:
                deployment.status = "Active"
                deployment.last_updated = due

    def _set_job_status(self, job: Job, status: str, at: float) -> None:
        job.status = status
        job.last_modified = at
        if status in JOB_TERMINAL:
            job.end_time = at
        if status in self.event_statuses:
            event = job_state_change_event(self._job_view(job, at), account=self.account_id, region=self.region, now=at)
            self._publish(event)

    def _complete(self, job: Job, at: float) -> None:
        epochs = int(job.hyperparameters.get("epochCount", "2"))
        validated = job.validation_uris if job.model.uses_validation_data else []  # Nova 2 Lite ignores them
        losses = [_synthetic_loss(len(job.examples), epochs, 0.05) for _ in validated]
        self._models[job.custom_model_arn] = CustomModel(
            arn=job.custom_model_arn,
            name=job.custom_model_name,
            job=job,
            created=at,
            behaviour=NearestExampleModel(job.examples),
            training_loss=_synthetic_loss(len(job.examples), epochs),
            validation_losses=losses,
        )
        self._set_job_status(job, "Completed", at)

    # -- customization jobs ----------------------------------------------------------------------------

    def _arn(self, kind: str, path: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account_id}:{kind}/{path}"

    def _find_job(self, identifier: str) -> Job:
        job = self._jobs.get(identifier) or next((j for j in self._jobs.values() if j.name == identifier), None)
        if job is None:
            raise not_found(f"Model customization job {identifier} not found.")
        return job

    def _token_job(self, token: str | None, fingerprint: str) -> Job | None:
        """The job an earlier request with this token made; a different request with it is a conflict."""
        if token is None or token not in self._job_tokens:
            return None
        job = self._jobs[self._job_tokens[token]]
        if job.fingerprint != fingerprint:
            raise conflict(
                f"The clientRequestToken {token} was already used for a different CreateModelCustomizationJob "
                f"request (job {job.arn})."
            )
        return job

    def _check_names_free(self, name: str, model_name: str) -> None:
        if any(job.name == name for job in self._jobs.values()):
            raise conflict(f"A model customization job with the name {name} already exists.")
        taken = any(m.name == model_name for m in self._models.values()) or any(
            job.custom_model_name == model_name and job.status in ("InProgress", "Stopping")
            for job in self._jobs.values()
        )
        if taken:
            raise conflict(f"A custom model with the name {model_name} already exists or is being created.")

    def create_job(self, params: dict[str, Any], model: NovaModel, hyperparameters: dict[str, str]) -> tuple[str, bool]:
        """Make a job (or find the one this token already made); returns (job ARN, created now)."""
        token = params.get("clientRequestToken")
        fingerprint = _fingerprint(params)
        with self._session():
            existing = self._token_job(token, fingerprint)
            if existing is not None:
                return existing.arn, False
            self._check_names_free(params["jobName"], params["customModelName"])
        training_uri = params["trainingDataConfig"]["s3Uri"]
        validation_uris = [v["s3Uri"] for v in params.get("validationDataConfig", {}).get("validators", [])]
        check = self._check_data(model, training_uri, validation_uris)  # S3 reads, outside the lock
        with self._session() as now:
            existing = self._token_job(token, fingerprint)  # a concurrent retry may have won the race
            if existing is not None:
                return existing.arn, False
            self._check_names_free(params["jobName"], params["customModelName"])
            job_id = new_id()
            job = Job(
                job_id=job_id,
                arn=self._arn("model-customization-job", f"{model.customizable_id}/{job_id}"),
                name=params["jobName"],
                model=model,
                base_model_arn=catalog.foundation_model_arn(self.region, model.customizable_id),
                custom_model_name=params["customModelName"],
                custom_model_arn=self._arn("custom-model", f"{model.customizable_id}/{new_id()}"),
                role_arn=params["roleArn"],
                client_token=token,
                fingerprint=fingerprint,
                hyperparameters=hyperparameters,
                training_uri=training_uri,
                validation_uris=validation_uris,
                output_uri=params["outputDataConfig"]["s3Uri"],
                vpc_config=params.get("vpcConfig"),
                created=now,
                duration=self.job_duration_seconds,
                examples=check.examples,
                data_error=check.error,
                last_modified=now,
            )
            self._jobs[job.arn] = job
            if token is not None:
                self._job_tokens[token] = job.arn
            if "InProgress" in self.event_statuses:
                self._set_job_status(job, "InProgress", now)
            self._advance(now)  # a zero duration finishes (or fails) the job in its create response
            return job.arn, True

    def _read(self, uri: str) -> bytes:
        if self._read_data is None:
            raise validation("The Bedrock emulator was started without an S3 client, so it cannot read training data.")
        return self._read_data(uri)

    def _check_data(self, model: NovaModel, training_uri: str, validation_uris: list[str]) -> DatasetCheck:
        """Read and check the data now (S3 is read once, as the job starts); a problem fails the job later."""
        try:
            training = check_dataset(
                self._read(training_uri),
                uri=training_uri,
                model_id=model.customizable_id,
                min_records=model.min_records,
                max_records=model.max_records,
            )
            if training.error is not None or not model.uses_validation_data:
                return training
            for uri in validation_uris:
                checked = check_dataset(
                    self._read(uri), uri=uri, model_id=model.customizable_id, min_records=1, max_records=None
                )
                if checked.error is not None:
                    return checked
            return training
        except DataUnavailable as problem:
            return DatasetCheck((), str(problem))

    def _status_details(self, job: Job, now: float) -> dict[str, Any]:
        if job.status == "Completed":
            current, word = len(PHASES), "Completed"
        elif job.status == "Failed":
            current, word = job.failed_phase, "Failed"
        elif job.status in ("Stopping", "Stopped"):
            current, word = job.stop_phase, job.status
        else:
            current, word = job.phase_at(now), "InProgress"
        details: dict[str, Any] = {}
        for index, (key, start, end) in enumerate(PHASES):
            started = job.created + start * job.duration
            if index < current:
                finished = job.created + end * job.duration
                details[key] = {"status": "Completed", "creationTime": iso(started), "lastModifiedTime": iso(finished)}
            elif index == current:
                details[key] = {
                    "status": word,
                    "creationTime": iso(started),
                    "lastModifiedTime": iso(job.last_modified),
                }
            else:
                details[key] = {"status": "NotStarted"}
        return details

    def _job_view(self, job: Job, now: float) -> dict[str, Any]:
        """`GetModelCustomizationJobResponse`."""
        view: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": job.custom_model_name,
            "roleArn": job.role_arn,
            "status": job.status,
            "statusDetails": self._status_details(job, now),
            "creationTime": iso(job.created),
            "lastModifiedTime": iso(job.last_modified),
            "baseModelArn": job.base_model_arn,
            "hyperParameters": dict(job.hyperparameters),
            "trainingDataConfig": {"s3Uri": job.training_uri},
            "validationDataConfig": {"validators": [{"s3Uri": uri} for uri in job.validation_uris]},
            "outputDataConfig": {"s3Uri": job.output_uri},
            "customizationType": "FINE_TUNING",
        }
        if job.client_token is not None:
            view["clientRequestToken"] = job.client_token
        if job.end_time is not None:
            view["endTime"] = iso(job.end_time)
        if job.failure_message is not None:
            view["failureMessage"] = job.failure_message
        model = self._models.get(job.custom_model_arn)
        if job.status == "Completed" and model is not None:
            view["outputModelArn"] = model.arn
            view["trainingMetrics"] = {"trainingLoss": model.training_loss}
            if model.validation_losses:
                view["validationMetrics"] = [{"validationLoss": loss} for loss in model.validation_losses]
        if job.vpc_config is not None:
            view["vpcConfig"] = job.vpc_config
        return view

    def _job_summary(self, job: Job, now: float) -> dict[str, Any]:
        """`ModelCustomizationJobSummary`."""
        summary: dict[str, Any] = {
            "jobArn": job.arn,
            "baseModelArn": job.base_model_arn,
            "jobName": job.name,
            "status": job.status,
            "statusDetails": self._status_details(job, now),
            "lastModifiedTime": iso(job.last_modified),
            "creationTime": iso(job.created),
            "customModelName": job.custom_model_name,
            "customizationType": "FINE_TUNING",
        }
        if job.end_time is not None:
            summary["endTime"] = iso(job.end_time)
        if job.status == "Completed":
            summary["customModelArn"] = job.custom_model_arn
        return summary

    def get_job(self, identifier: str) -> dict[str, Any]:
        with self._session() as now:
            return self._job_view(self._find_job(identifier), now)

    def list_jobs(
        self,
        *,
        name_contains: str | None = None,
        status: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        ascending: bool = False,
    ) -> list[dict[str, Any]]:
        """Job summaries, filtered, by creation time (newest first unless `ascending`)."""
        with self._session() as now:
            jobs = [
                job
                for job in self._jobs.values()
                if (name_contains is None or name_contains.lower() in job.name.lower())
                and (status is None or job.status == status)
                and (created_after is None or job.created > created_after)
                and (created_before is None or job.created < created_before)
            ]
            jobs.sort(key=lambda job: job.created, reverse=not ascending)
            return [self._job_summary(job, now) for job in jobs]

    def stop_job(self, identifier: str) -> None:
        """InProgress -> Stopping -> Stopped; any other status cannot be stopped."""
        with self._session() as now:
            job = self._find_job(identifier)
            if job.status != "InProgress":
                raise validation(
                    f"The model customization job {job.name} can't be stopped because it is in {job.status} status."
                )
            job.stop_requested = now
            job.stop_phase = job.phase_at(now)
            self._set_job_status(job, "Stopping", now)
            self._advance(now)

    # -- custom models ---------------------------------------------------------------------------------

    def _find_model(self, identifier: str) -> CustomModel:
        model = self._models.get(identifier) or next((m for m in self._models.values() if m.name == identifier), None)
        if model is None:
            raise not_found(f"Custom model {identifier} not found.")
        return model

    def _model_view(self, model: CustomModel) -> dict[str, Any]:
        """`GetCustomModelResponse`."""
        job = model.job
        view: dict[str, Any] = {
            "modelArn": model.arn,
            "modelName": model.name,
            "jobName": job.name,
            "jobArn": job.arn,
            "baseModelArn": job.base_model_arn,
            "customizationType": "FINE_TUNING",
            "hyperParameters": dict(job.hyperparameters),
            "trainingDataConfig": {"s3Uri": job.training_uri},
            "validationDataConfig": {"validators": [{"s3Uri": uri} for uri in job.validation_uris]},
            "outputDataConfig": {"s3Uri": job.output_uri},
            "trainingMetrics": {"trainingLoss": model.training_loss},
            "creationTime": iso(model.created),
            "modelStatus": "Active",
        }
        if model.validation_losses:
            view["validationMetrics"] = [{"validationLoss": loss} for loss in model.validation_losses]
        return view

    def get_custom_model(self, identifier: str) -> dict[str, Any]:
        with self._session():
            return self._model_view(self._find_model(identifier))

    # -- deployments -----------------------------------------------------------------------------------

    def _find_deployment(self, identifier: str) -> Deployment:
        found = self._deployments.get(identifier) or next(
            (d for d in self._deployments.values() if d.name == identifier), None
        )
        if found is None:
            raise not_found(f"Custom model deployment {identifier} not found.")
        return found

    def create_deployment(self, params: dict[str, Any]) -> tuple[str, bool]:
        """Deploy a completed custom model (or find what this token already deployed)."""
        token = params.get("clientRequestToken")
        fingerprint = _fingerprint(params)
        with self._session() as now:
            if token is not None and token in self._deployment_tokens:
                existing = self._deployments.get(self._deployment_tokens[token])
                if existing is not None and existing.fingerprint == fingerprint:
                    return existing.arn, False
                if existing is not None:
                    raise validation(
                        f"The clientRequestToken {token} was already used for a different "
                        f"CreateCustomModelDeployment request ({existing.arn})."
                    )
            model = self._models.get(params["modelArn"])
            if model is None:
                raise not_found(f"Custom model {params['modelArn']} not found.")
            if any(d.name == params["modelDeploymentName"] for d in self._deployments.values()):
                raise validation(
                    f"A custom model deployment with the name {params['modelDeploymentName']} already exists."
                )
            deployment_id = new_id()
            deployment = Deployment(
                deployment_id=deployment_id,
                arn=self._arn("custom-model-deployment", deployment_id),
                name=params["modelDeploymentName"],
                model=model,
                description=params.get("description"),
                client_token=token,
                fingerprint=fingerprint,
                created=now,
                duration=self.deployment_duration_seconds,
                last_updated=now,
                tags=list(params.get("tags", [])),
            )
            self._deployments[deployment.arn] = deployment
            if token is not None:
                self._deployment_tokens[token] = deployment.arn
            self._advance(now)
            return deployment.arn, True

    @staticmethod
    def _deployment_view(deployment: Deployment) -> dict[str, Any]:
        """`GetCustomModelDeploymentResponse`."""
        view: dict[str, Any] = {
            "customModelDeploymentArn": deployment.arn,
            "modelDeploymentName": deployment.name,
            "modelArn": deployment.model.arn,
            "createdAt": iso(deployment.created),
            "status": deployment.status,
            "lastUpdatedAt": iso(deployment.last_updated),
        }
        if deployment.description is not None:
            view["description"] = deployment.description
        if deployment.failure_message is not None:
            view["failureMessage"] = deployment.failure_message
        return view

    @staticmethod
    def _deployment_summary(deployment: Deployment) -> dict[str, Any]:
        """`CustomModelDeploymentSummary` (note: `customModelDeploymentName`, not `modelDeploymentName`)."""
        summary: dict[str, Any] = {
            "customModelDeploymentArn": deployment.arn,
            "customModelDeploymentName": deployment.name,
            "modelArn": deployment.model.arn,
            "createdAt": iso(deployment.created),
            "status": deployment.status,
            "lastUpdatedAt": iso(deployment.last_updated),
        }
        if deployment.failure_message is not None:
            summary["failureMessage"] = deployment.failure_message
        return summary

    def get_deployment(self, identifier: str) -> dict[str, Any]:
        with self._session():
            return self._deployment_view(self._find_deployment(identifier))

    def list_deployments(
        self,
        *,
        name_contains: str | None = None,
        status: str | None = None,
        model_arn: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        ascending: bool = False,
    ) -> list[dict[str, Any]]:
        with self._session():
            found = [
                d
                for d in self._deployments.values()
                if (name_contains is None or name_contains.lower() in d.name.lower())
                and (status is None or d.status == status)
                and (model_arn is None or d.model.arn == model_arn)
                and (created_after is None or d.created > created_after)
                and (created_before is None or d.created < created_before)
            ]
            found.sort(key=lambda d: d.created, reverse=not ascending)
            return [self._deployment_summary(d) for d in found]

    def delete_deployment(self, identifier: str) -> None:
        with self._session():
            deployment = self._find_deployment(identifier)
            del self._deployments[deployment.arn]

    # -- inference -------------------------------------------------------------------------------------

    def responder(self, model_id: str) -> Callable[[str], str]:
        """What answers a Converse call for `model_id`: a base Nova model, or an Active deployment."""
        with self._session():
            if ":custom-model-deployment/" in model_id:
                deployment = self._deployments.get(model_id)
                if deployment is None:
                    raise not_found(f"Custom model deployment {model_id} not found.")
                if deployment.status != "Active":
                    raise validation(
                        f"The custom model deployment {model_id} is not active (status: {deployment.status}). "
                        "Wait until its status is Active and try again."
                    )
                return deployment.model.behaviour.reply
            if ":custom-model/" in model_id:
                raise validation(
                    "On-demand inference of a custom model needs a custom model deployment: "
                    "use the deployment ARN as the modelId."
                )
        if catalog.invokable(model_id) is not None:
            return base_reply  # a judge prompt gets the stand-in judge
        raise validation("The provided model identifier is invalid.")

    # -- foundation models -----------------------------------------------------------------------------

    def foundation_models(self) -> list[dict[str, Any]]:
        """Every `FoundationModelSummary`, with the lifecycles set by tests."""
        with self._lock:
            return catalog.foundation_models(self.region, self._lifecycles)

    def is_legacy(self, model_id: str) -> bool:
        with self._lock:
            return self._lifecycles.get(model_id, {}).get("status") == "LEGACY"

    def set_lifecycle(
        self, model_id: str, status: str, legacy_time: float | None = None, end_of_life_time: float | None = None
    ) -> None:
        """A model id's `FoundationModelLifecycle` from now on (times as epoch seconds)."""
        if status not in ("ACTIVE", "LEGACY"):
            raise ValueError(f"unknown lifecycle status {status!r}")
        if catalog.known(model_id) is None:
            raise ValueError(f"{model_id} is not a model the emulator knows")
        lifecycle: dict[str, Any] = {"status": status}
        if legacy_time is not None:
            lifecycle["legacyTime"] = iso(legacy_time)
        if end_of_life_time is not None:
            lifecycle["endOfLifeTime"] = iso(end_of_life_time)
        with self._lock:
            self._lifecycles[model_id] = lifecycle

    # -- test helpers ----------------------------------------------------------------------------------

    def complete_job(self, identifier: str) -> dict[str, Any]:
        """Finish a running job now, as Completed (its data must have been valid)."""
        with self._session() as now:
            job = self._find_job(identifier)
            if job.status not in ("InProgress", "Stopping"):
                raise ValueError(f"job {job.name} is already {job.status}")
            if job.data_error is not None:
                raise ValueError(f"job {job.name} cannot complete: {job.data_error}")
            self._complete(job, now)
            return self._job_view(job, now)

    def fail_job(self, identifier: str, message: str) -> dict[str, Any]:
        """Fail a running job now with this failureMessage."""
        with self._session() as now:
            job = self._find_job(identifier)
            if job.status not in ("InProgress", "Stopping"):
                raise ValueError(f"job {job.name} is already {job.status}")
            job.failure_message = message
            job.failed_phase = job.phase_at(now) if job.status == "InProgress" else job.stop_phase
            self._set_job_status(job, "Failed", now)
            return self._job_view(job, now)

    def activate_deployment(self, identifier: str) -> dict[str, Any]:
        with self._session() as now:
            deployment = self._find_deployment(identifier)
            if deployment.status != "Creating":
                raise ValueError(f"deployment {deployment.name} is already {deployment.status}")
            deployment.status, deployment.last_updated = "Active", now
            return self._deployment_view(deployment)

    def fail_deployment(self, identifier: str, message: str) -> dict[str, Any]:
        with self._session() as now:
            deployment = self._find_deployment(identifier)
            deployment.status, deployment.last_updated, deployment.failure_message = "Failed", now, message
            return self._deployment_view(deployment)

    def jobs(self) -> list[dict[str, Any]]:
        with self._session() as now:
            return [self._job_view(job, now) for job in self._jobs.values()]

    def custom_models(self) -> list[dict[str, Any]]:
        with self._session():
            return [self._model_view(model) for model in self._models.values()]

    def deployments(self) -> list[dict[str, Any]]:
        with self._session():
            return [self._deployment_view(d) for d in self._deployments.values()]

    def training_examples(self, identifier: str) -> list[Example]:
        """The examples behind a job, custom model or deployment (ARN or name): what the stand-in knows."""
        with self._session():
            if identifier in self._deployments or any(d.name == identifier for d in self._deployments.values()):
                return list(self._find_deployment(identifier).model.job.examples)
            if identifier in self._models or any(m.name == identifier for m in self._models.values()):
                return list(self._find_model(identifier).job.examples)
            return list(self._find_job(identifier).examples)


def check_hyperparameters(given: dict[str, str] | None) -> dict[str, str]:
    """Nova's ranges: every value a string holding a number in range; unknown names are refused."""
    resolved = {name: spec.default for name, spec in HYPERPARAMETERS.items() if spec.default is not None}
    for name, raw in (given or {}).items():
        spec = HYPERPARAMETERS.get(name)
        if spec is None:
            raise validation(
                f"The hyperparameter {name} is not supported. Supported hyperparameters: {', '.join(HYPERPARAMETERS)}."
            )
        try:
            value = float(raw) if spec.kind is float else int(raw)
        except (TypeError, ValueError):
            value = None
        kind = "a number" if spec.kind is float else "an integer"
        if value is None or not math.isfinite(value) or not spec.minimum <= value <= spec.maximum:
            raise validation(
                f"The value {raw!r} of hyperparameter {name} is invalid: it must be {kind} "
                f"from {spec.minimum:g} to {spec.maximum:g}."
            )
        resolved[name] = raw
    return resolved
