"""FineTuneProvider, ModelServing and ChatModel on Amazon Bedrock (Amazon Nova model customization), via boto3.

Bedrock takes an idempotency token, so each run gets one resource name, `<prefix>-<run id>` (`resource_name`):
the job's name, its custom model's name, the deployment's name, and the clientRequestToken of both creates. A
retried create returns what the first one made, and the run's job and deployment are found again by that name.
Bedrock reads the training data from our bucket, so nothing is uploaded and no copy is left to delete; the
deployment, billed while it exists, is deleted when the run ends.

The clients come with botocore's standard retries (throttling, 5xx, timeouts, with backoff); what still fails
is a TransientError for the state machine's slower retry. A request Bedrock refuses for good (invalid, denied,
over quota, unknown model) fails the run with Bedrock's own words: ProviderRefused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from labeltune.domain.models import EndpointState, FineTuneJob, JobState, ModelEndpoint
from labeltune.domain.project_config import PROVIDER_HYPERPARAMETERS, Hyperparameters
from labeltune.errors import ConfigurationError, ProviderRefused, TransientError, UnknownJob

P = ParamSpec("P")
T = TypeVar("T")

# -- names ---------------------------------------------------------------------------------------------------

MAX_NAME_LENGTH = 63  # jobName, customModelName and modelDeploymentName: 1-63 characters
MAX_PREFIX_LENGTH = 31  # a stack name's length: room is left for a whole run id
HASH_LENGTH = 10
_NOT_NAME = re.compile(r"[^0-9A-Za-z]+")
# Only a shortened (or escaped) name ends like this; a name that keeps the run id whole never does.
_HASHED = re.compile(rf"-h[0-9a-f]{{{HASH_LENGTH}}}\Z")


def _clean(text: str) -> str:
    """Letters and digits, every run of anything else one "-", none at either end: the one alphabet that fits
    jobName, customModelName/modelDeploymentName (no two separators in a row) and clientRequestToken at once."""
    return _NOT_NAME.sub("-", text).strip("-")


def _prefix(name_prefix: str) -> str:
    cleaned = _clean(name_prefix)[:MAX_PREFIX_LENGTH].rstrip("-")
    if not cleaned:
        raise ConfigurationError(f"the Bedrock name prefix {name_prefix!r} has no letter or digit")
    return cleaned


def resource_name(name_prefix: str, run_id: str) -> str:
    """The run's one Bedrock name. `<prefix>-<run id>` when the run id fits as it is (real run ids always do),
    so the run id can be read back; otherwise a cleaned, shortened run id and a hash of the whole run id,
    ending `-h<10 hex>`, which keeps it unique and tells `run_id_from_name` not to guess."""
    prefix = _prefix(name_prefix)
    plain = f"{prefix}-{run_id}"
    if run_id and _clean(run_id) == run_id and len(plain) <= MAX_NAME_LENGTH and not _HASHED.search(plain):
        return plain
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:HASH_LENGTH]
    room = MAX_NAME_LENGTH - len(prefix) - len(digest) - 3  # the "-" after the prefix, "-h" before the hash
    stem = _clean(run_id)[:room].rstrip("-")
    return "-".join(part for part in (prefix, stem, f"h{digest}") if part)


def run_id_from_name(name_prefix: str, name: str) -> str | None:
    """The run id a name was made from, or None when the name does not carry it whole (or is not ours)."""
    head = f"{_prefix(name_prefix)}-"
    if not name.startswith(head) or _HASHED.search(name):
        return None
    run_id = name[len(head) :]
    return run_id if resource_name(name_prefix, run_id) == name else None


# -- errors --------------------------------------------------------------------------------------------------

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
REFUSED_CODES = frozenset(
    {"ValidationException", "AccessDeniedException", "ServiceQuotaExceededException", "ResourceNotFoundException"}
)
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or error)


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _is_transient(error: ClientError) -> bool:
    return _code(error) in TRANSIENT_CODES or _status(error) >= 500


def _refusal(error: ClientError) -> ProviderRefused:
    return ProviderRefused(f"Bedrock: {_code(error)}: {_message(error)}")


def _transient_as_retryable(call: Callable[P, T]) -> Callable[P, T]:
    """botocore already retried; what still fails with a throttle, a 5xx or a lost connection is handed to
    the state machine's backoff. Other errors pass unchanged."""

    @wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            if _is_transient(error):
                raise TransientError(f"Bedrock {_code(error) or _status(error)}: {_message(error)}") from error
            raise
        except _CONNECTION_ERRORS as error:
            raise TransientError(f"Bedrock {type(error).__name__}: {error}") from error

    return wrapper


# -- fine-tuning ---------------------------------------------------------------------------------------------

BEDROCK_HYPERPARAMETER_NAMES = {
    "n_epochs": "epochCount",
    "learning_rate": "learningRate",
    "learning_rate_warmup_steps": "learningRateWarmupSteps",
}
_JOB_STATES = {
    "InProgress": JobState.PENDING,
    "Stopping": JobState.PENDING,
    "Completed": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "Stopped": JobState.FAILED,
}
STOPPED_MESSAGE = "The job was stopped before it finished training."
LIST_PAGE_SIZE = 100
_NOT_STOPPABLE = frozenset({"ValidationException", "ConflictException"})


def plain_decimal(value: int | float) -> str:
    """Bedrock's hyperparameters are strings; a float in plain notation ("0.00001", not "1e-05")."""
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)), "f")


def bedrock_hyperparameters(hyperparameters: Hyperparameters) -> dict[str, str]:
    """Only what was set by hand, and only what Bedrock takes: its defaults stand for the rest."""
    chosen = hyperparameters.explicit()
    return {
        BEDROCK_HYPERPARAMETER_NAMES[name]: plain_decimal(value)
        for name, value in chosen.items()
        if name in PROVIDER_HYPERPARAMETERS["bedrock"]
    }


def _epoch_seconds(value: Any) -> int | None:
    return int(value.timestamp()) if isinstance(value, datetime) else None


def _base_model(base_model_arn: str) -> str:
    """`arn:aws:bedrock:<region>::foundation-model/<id>` -> `<id>`, the id a project configures."""
    marker = "foundation-model/"
    return base_model_arn.split(marker, 1)[1] if marker in base_model_arn else base_model_arn


class BedrockFineTuning:
    """Model customization jobs: one per run, named after it, training on the run's files in our bucket."""

    def __init__(self, client: Any, *, bucket: str, job_role_arn: str | None, name_prefix: str) -> None:
        """`job_role_arn`: the role jobs run as, needed only to create one (the functions that look at or stop
        jobs are not given it)."""
        self._client = client
        self._bucket = bucket
        self._role_arn = job_role_arn
        self._name_prefix = name_prefix
        _prefix(name_prefix)  # a prefix that makes no name fails at construction, not at the first job

    def name(self, run_id: str) -> str:
        return resource_name(self._name_prefix, run_id)

    def _job(self, raw: dict[str, Any]) -> FineTuneJob:
        """A GetModelCustomizationJob response, or a job summary (which has no failureMessage)."""
        status = str(raw["status"])
        state = _JOB_STATES.get(status, JobState.PENDING)
        message = raw.get("failureMessage")
        if status == "Stopped":
            message = message or STOPPED_MESSAGE
        completed = status == "Completed"
        return FineTuneJob(
            job_id=raw["jobArn"],
            run_id=run_id_from_name(self._name_prefix, str(raw.get("jobName", ""))),
            status=status,
            state=state,
            base_model=_base_model(str(raw.get("baseModelArn", ""))),
            fine_tuned_model=(raw.get("outputModelArn") or raw.get("customModelArn")) if completed else None,
            trained_tokens=None,  # Bedrock reports no token count for a job
            error_message=message if state is JobState.FAILED else None,
            created_at=_epoch_seconds(raw.get("creationTime")),
        )

    def stage_training_file(self, run_id: str, split: str, uri: str, lines: Iterable[str]) -> str:
        """Bedrock reads the file where it is (our bucket, through the job's role): nothing to upload."""
        return uri

    @_transient_as_retryable
    def find_jobs(self, run_id: str) -> list[FineTuneJob]:
        name = self.name(run_id)
        pages = self._client.get_paginator("list_model_customization_jobs").paginate(
            nameContains=name,
            sortBy="CreationTime",
            sortOrder="Ascending",
            PaginationConfig={"PageSize": LIST_PAGE_SIZE},
        )
        # nameContains matches substrings (and ignores case): only the exact name is the run's.
        summaries = [s for page in pages for s in page["modelCustomizationJobSummaries"] if s["jobName"] == name]
        summaries.sort(key=lambda s: s["creationTime"])
        return [self.get_job(s["jobArn"]) if s["status"] == "Failed" else self._job(s) for s in summaries]

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
        if not self._role_arn:
            raise ConfigurationError("BEDROCK_JOB_ROLE_ARN is not set: Bedrock needs a role to run the job as")
        name = self.name(run_id)
        request: dict[str, Any] = {
            "jobName": name,
            "customModelName": name,
            "clientRequestToken": name,  # a retried create (ours or botocore's) returns the same job
            "roleArn": self._role_arn,
            "baseModelIdentifier": base_model,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": training_file},
            "outputDataConfig": {"s3Uri": f"s3://{self._bucket}/runs/{run_id}/provider-output/"},
        }
        if validation_file:
            request["validationDataConfig"] = {"validators": [{"s3Uri": validation_file}]}
        chosen = bedrock_hyperparameters(hyperparameters)
        if chosen:
            request["hyperParameters"] = chosen
        try:
            job_arn = self._client.create_model_customization_job(**request)["jobArn"]
        except ClientError as error:
            if _code(error) == "ConflictException":
                return self._existing_job(name, error)
            if _code(error) in REFUSED_CODES:
                raise _refusal(error) from error
            raise
        return self.get_job(job_arn)

    def _existing_job(self, name: str, conflict: ClientError) -> FineTuneJob:
        """The name (or its token) is taken: by the run's own job, made by an earlier request that differed
        (settings changed between attempts); that job is the run's. Anything else is a refusal."""
        try:
            return self._job(self._client.get_model_customization_job(jobIdentifier=name))
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                raise _refusal(conflict) from conflict
            raise

    @_transient_as_retryable
    def get_job(self, job_id: str) -> FineTuneJob:
        try:
            return self._job(self._client.get_model_customization_job(jobIdentifier=job_id))
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                raise UnknownJob(f"Bedrock has no job {job_id}") from error
            raise

    @_transient_as_retryable
    def cancel_job(self, job_id: str) -> FineTuneJob:
        try:
            self._client.stop_model_customization_job(jobIdentifier=job_id)
        except ClientError as error:
            if _code(error) not in _NOT_STOPPABLE:
                raise
            # Bedrock refuses to stop a job that is no longer in progress: it is not training, as wanted.
        return self.get_job(job_id)

    def delete_run_files(self, run_id: str) -> int:
        """Bedrock keeps no copy of our data (it reads the run's S3 prefix, deleted with the run's files)."""
        return 0


# -- serving -------------------------------------------------------------------------------------------------

_ENDPOINT_STATES = {"Creating": EndpointState.PENDING, "Active": EndpointState.READY, "Failed": EndpointState.FAILED}
_NAME_TAKEN = frozenset({"ConflictException", "ValidationException"})


class BedrockServing:
    """A tuned Nova model is called through an on-demand custom model deployment, named after the run."""

    def __init__(self, client: Any, *, name_prefix: str) -> None:
        self._client = client
        self._name_prefix = name_prefix
        _prefix(name_prefix)

    def name(self, run_id: str) -> str:
        return resource_name(self._name_prefix, run_id)

    def _deployments(self, name: str) -> list[dict[str, Any]]:
        """Every deployment with exactly this name (nameContains matches substrings), all pages."""
        pages = self._client.get_paginator("list_custom_model_deployments").paginate(
            nameContains=name, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        return [
            summary
            for page in pages
            for summary in page["modelDeploymentSummaries"]
            if summary["customModelDeploymentName"] == name
        ]

    @_transient_as_retryable
    def serve(self, run_id: str, tuned_model: str) -> ModelEndpoint:
        name = self.name(run_id)
        try:
            created = self._client.create_custom_model_deployment(
                modelDeploymentName=name, modelArn=tuned_model, clientRequestToken=name
            )
            arn = created["customModelDeploymentArn"]
        except ClientError as error:
            code = _code(error)
            if code not in _NAME_TAKEN and code not in REFUSED_CODES:
                raise
            found = [d for d in self._deployments(name) if d["modelArn"] == tuned_model] if code in _NAME_TAKEN else []
            if not found:
                raise _refusal(error) from error
            arn = found[0]["customModelDeploymentArn"]  # an earlier attempt made it
        return self.endpoint(arn)

    @_transient_as_retryable
    def endpoint(self, endpoint_id: str) -> ModelEndpoint:
        raw = self._client.get_custom_model_deployment(customModelDeploymentIdentifier=endpoint_id)
        status = str(raw["status"])
        state = _ENDPOINT_STATES.get(status, EndpointState.PENDING)
        arn = raw["customModelDeploymentArn"]
        message = raw.get("failureMessage") if state is EndpointState.FAILED else None
        return ModelEndpoint(endpoint_id=arn, model_id=arn, state=state, status=status, message=message)

    @_transient_as_retryable
    def release(self, run_id: str) -> list[str]:
        deleted = []
        for deployment in self._deployments(self.name(run_id)):
            arn = deployment["customModelDeploymentArn"]
            try:
                self._client.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
            except ClientError as error:
                if _code(error) == "ResourceNotFoundException":
                    continue  # deleted meanwhile (a retried cleanup)
                if _code(error) == "ConflictException":  # busy (e.g. being created or updated): try again later
                    raise TransientError(f"Bedrock ConflictException: {_message(error)}") from error
                raise
            deleted.append(arn)
        return deleted


# -- inference -----------------------------------------------------------------------------------------------

DEFAULT_MAX_TOKENS = 1024  # a summary is a few sentences; the bound keeps a runaway answer cheap
WITHHELD = "(Bedrock's message is not repeated: it may quote the chat)"


class BedrockChat:
    """Converse: the same call for base models (model or inference profile id) and deployed tuned models."""

    def __init__(self, client: Any, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self._client = client
        self._max_tokens = max_tokens

    @_transient_as_retryable
    def complete(self, model: str, system: str, user: str) -> str:
        request: dict[str, Any] = {
            "modelId": model,
            "messages": [{"role": "user", "content": [{"text": user}]}],
            "inferenceConfig": {"temperature": 0.0, "maxTokens": self._max_tokens},
        }
        if system:  # a system block's text must not be empty
            request["system"] = [{"text": system}]
        try:
            response = self._client.converse(**request)
        except ClientError as error:
            if _is_transient(error):
                raise
            # A validation message can quote what was sent: keep the error's class and code, drop its text.
            withheld = {"Error": {"Code": _code(error), "Message": WITHHELD}, "ResponseMetadata": {}}
            raise type(error)(withheld, error.operation_name) from None
        content = response["output"]["message"]["content"]
        return "".join(block["text"] for block in content if "text" in block)
