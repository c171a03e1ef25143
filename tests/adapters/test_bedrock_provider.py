"""The Bedrock adapter through real boto3 clients against the Bedrock emulator (S3 on moto's server): one job
and one deployment per run whatever is retried, names Bedrock accepts for any run id, statuses normalised, and
errors sorted into those worth retrying and those that are not.

One emulator and one moto server serve the whole module; each test works under its own run id.
"""

from __future__ import annotations

import json
import random
import re
import socket
import string
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import botocore.loaders
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from moto.server import ThreadedMotoServer

from labeltune.adapters import bedrock_provider
from labeltune.adapters.bedrock_provider import (
    STOPPED_MESSAGE,
    BedrockChat,
    BedrockFineTuning,
    BedrockServing,
    plain_decimal,
    resource_name,
    run_id_from_name,
)
from labeltune.domain.models import EndpointState, FineTuneJob, JobState, ModelEndpoint
from labeltune.domain.project_config import Hyperparameters
from labeltune.errors import ProviderRefused, TransientError
from labeltune_tools.bedrock_emulator import BedrockEmulator

PREFIX = "labeltune-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/LabeltuneBedrockCustomization"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
ON_DEMAND_MICRO = "amazon.nova-micro-v1:0"
SYSTEM = "Summarise the support chat without personal data."
# As wiring.py builds the clients: botocore's standard retries, max_attempts 3.
WIRED = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
TOPICS = [
    ("I want a refund for the blender that arrived broken", "Customer requests a refund for a broken blender."),
    ("my parcel is two weeks late and tracking has not moved", "Customer reports a delayed parcel."),
    ("I cannot log in, the password reset email never comes", "Customer cannot reset their password."),
    ("please send me a VAT invoice for last month", "Customer asks for a VAT invoice."),
    ("I need to change the shipping address on my order", "Customer wants to change the shipping address."),
    ("cancel my subscription before the next renewal", "Customer asks to cancel the subscription."),
    ("does the warranty cover a cracked screen", "Customer asks whether the warranty covers a cracked screen."),
    ("my discount code was rejected at checkout", "Customer reports a rejected discount code."),
    ("the shoes are too small and I want a bigger size", "Customer wants to exchange shoes for a larger size."),
    ("I was charged twice for the same order", "Customer reports a duplicate charge."),
]


def transcript(index: int) -> str:
    return f"Maria Gonzalez: Hello, {TOPICS[index][0]}. Order ORD-{500000 + index}.\nTom Baker: Let me check."


def record(index: int, user: str | None = None) -> str:
    """One `bedrock-conversation-2024` line, as the pipeline writes it."""
    return json.dumps(
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": SYSTEM}],
            "messages": [
                {"role": "user", "content": [{"text": user or transcript(index)}]},
                {"role": "assistant", "content": [{"text": TOPICS[index][1]}]},
            ],
        }
    )


# -- fixtures: one moto server, one bucket, one emulator for the module ----------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _no_backoff() -> Iterator[None]:
    """botocore's retries without their sleeps: the attempts are what is tested, not the waiting."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
        yield


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    server.stop()


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = f"labeltune-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/train.jsonl", Body="\n".join(record(i) for i in range(10)) + "\n")
    s3.put_object(Bucket=name, Key="data/validation.jsonl", Body=record(0) + "\n")
    bad = [record(i) for i in range(10)]
    bad[5] = record(5, user="User: my parcel is late")  # a reserved keyword: Bedrock fails the job
    s3.put_object(Bucket=name, Key="data/invalid.jsonl", Body="\n".join(bad) + "\n")
    return name


@pytest.fixture(scope="module")
def emulator(s3: Any) -> Iterator[BedrockEmulator]:
    with BedrockEmulator(
        s3_client=s3, job_duration_seconds=0.5, deployment_duration_seconds=0.2, stop_duration_seconds=0.05
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(emulator: BedrockEmulator) -> Iterator[None]:
    emulator.faults.clear()
    yield
    emulator.faults.clear()


@pytest.fixture(scope="module")
def bedrock(emulator: BedrockEmulator) -> Any:
    return emulator.client("bedrock", config=WIRED)


@pytest.fixture(scope="module")
def runtime(emulator: BedrockEmulator) -> Any:
    return emulator.client("bedrock-runtime", config=WIRED)


@pytest.fixture(scope="module")
def fine_tuning(bedrock: Any, bucket: str) -> BedrockFineTuning:
    return BedrockFineTuning(bedrock, bucket=bucket, job_role_arn=ROLE_ARN, name_prefix=PREFIX)


@pytest.fixture(scope="module")
def serving(bedrock: Any) -> BedrockServing:
    return BedrockServing(bedrock, name_prefix=PREFIX)


@pytest.fixture(scope="module")
def chat(runtime: Any) -> BedrockChat:
    return BedrockChat(runtime)


@pytest.fixture
def run_id() -> str:
    return f"run-{uuid.uuid4().hex[:24]}"


@pytest.fixture
def train_uri(bucket: str) -> str:
    return f"s3://{bucket}/data/train.jsonl"


# -- helpers -----------------------------------------------------------------------------------------------------


def create(
    provider: BedrockFineTuning,
    run_id: str,
    training_file: str,
    *,
    base_model: str = NOVA_MICRO,
    validation_file: str | None = None,
    hyperparameters: Hyperparameters | None = None,
) -> FineTuneJob:
    return provider.create_job(
        run_id=run_id,
        base_model=base_model,
        training_file=training_file,
        validation_file=validation_file,
        hyperparameters=hyperparameters or Hyperparameters(),
    )


def wait_until(look: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        seen = look()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


def requests_of(emulator: BedrockEmulator, operation: str, **matching: str) -> list[tuple[Any, int]]:
    """(request body, or query as a dict, and status) of each `operation` sent whose members match `matching`."""
    found = []
    for exchange in emulator.exchanges:
        if exchange.operation != operation:
            continue
        sent = exchange.request_json() or {k: v[0] for k, v in parse_qs(exchange.query).items()}
        if all(sent.get(key) == value for key, value in matching.items()):
            found.append((sent, exchange.status))
    return found


def held_jobs(emulator: BedrockEmulator, name: str) -> list[dict[str, Any]]:
    return [job for job in emulator.jobs() if job["jobName"] == name]


def held_deployments(emulator: BedrockEmulator, name: str) -> list[dict[str, Any]]:
    return [d for d in emulator.deployments() if d["modelDeploymentName"] == name]


def completed(provider: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str) -> FineTuneJob:
    job = create(provider, run_id, train_uri)
    emulator.complete_job(job.job_id)
    return provider.get_job(job.job_id)


def ready(serving: BedrockServing, endpoint: ModelEndpoint) -> ModelEndpoint:
    found = wait_until(lambda: serving.endpoint(endpoint.endpoint_id), lambda e: e.state is not EndpointState.PENDING)
    assert isinstance(found, ModelEndpoint)
    return found


# -- names ---------------------------------------------------------------------------------------------------------


def _constraints() -> dict[str, tuple[re.Pattern[str], int, int]]:
    """Each name's pattern and lengths, from botocore's own Bedrock model (so they cannot drift from it)."""
    model = botocore.loaders.create_loader().load_service_model("bedrock", "service-2", api_version="2023-04-20")
    shapes = model["shapes"]

    def member(request: str, name: str) -> tuple[re.Pattern[str], int, int]:
        shape = shapes[shapes[request]["members"][name]["shape"]]
        return re.compile(shape["pattern"]), shape["min"], shape["max"]

    return {
        "jobName": member("CreateModelCustomizationJobRequest", "jobName"),
        "customModelName": member("CreateModelCustomizationJobRequest", "customModelName"),
        "clientRequestToken": member("CreateModelCustomizationJobRequest", "clientRequestToken"),
        "modelDeploymentName": member("CreateCustomModelDeploymentRequest", "modelDeploymentName"),
        "deploymentClientRequestToken": member("CreateCustomModelDeploymentRequest", "clientRequestToken"),
        "nameContains": member("ListModelCustomizationJobsRequest", "nameContains"),
        "deploymentNameContains": member("ListCustomModelDeploymentsRequest", "nameContains"),
    }


CONSTRAINTS = _constraints()
# Stack names are [A-Za-z][A-Za-z0-9-]{0,30}: the shortest, the longest, separators doubled or trailing, and one
# that ends like a shortened name.
WORST_PREFIXES = ["A", "a" * 31, "A" + "-" * 30, "x--y-", "Stack-h0123456789", "labeltune-prod"]
# Run ids are [0-9A-Za-z_-]{1,80}.
WORST_RUN_IDS = [
    "run-0123456789abcdef01234567",
    "9",
    "_",
    "-",
    "__--__",
    "a-_-b",
    "-lead-and-trail_",
    "a" * 80,
    "_" * 80,
    "-" * 80,
    "Z9" * 40,
    "x" * 31,
    "x" * 32,
    "run-h0123456789",
    "h0123456789",
    "RUN-ABC",
    "run_" + "0" * 76,
]


def _assert_valid(name: str) -> None:
    for field, (pattern, low, high) in CONSTRAINTS.items():
        assert low <= len(name) <= high, (field, name)
        assert pattern.fullmatch(name), (field, name)


def _random_run_ids(count: int) -> list[str]:
    draw = random.Random(20260101)
    alphabet = string.ascii_letters + string.digits + "_-"
    return ["".join(draw.choice(alphabet) for _ in range(draw.randint(1, 80))) for _ in range(count)] + WORST_RUN_IDS


@pytest.mark.parametrize("prefix", WORST_PREFIXES)
def test_names_satisfy_every_bedrock_pattern_and_give_the_run_id_back_or_none(prefix: str) -> None:
    run_ids = _random_run_ids(3000)
    names = {}
    for run_id in run_ids:
        name = resource_name(prefix, run_id)
        _assert_valid(name)
        recovered = run_id_from_name(prefix, name)
        assert recovered in (run_id, None), (run_id, name, recovered)
        names[run_id] = name
    assert len(set(names.values())) == len(set(run_ids)), "two run ids share a name"
    # A real run id is kept whole and read back, even under the longest stack name.
    real = "run-0123456789abcdef01234567"
    assert names[real].endswith(f"-{real}")
    assert run_id_from_name(prefix, names[real]) == real


def test_a_name_is_the_prefix_and_run_id_when_they_fit_and_says_so_when_not() -> None:
    assert resource_name("labeltune", "run-abc") == "labeltune-run-abc"
    assert run_id_from_name("labeltune", "labeltune-run-abc") == "run-abc"
    assert resource_name("My--Stack-", "run-abc") == "My-Stack-run-abc"
    shortened = resource_name("a" * 31, "x" * 80)
    assert len(shortened) == 63 and re.fullmatch(r"a{31}-x{19}-h[0-9a-f]{10}", shortened)
    assert run_id_from_name("a" * 31, shortened) is None  # shortened: unknown, not guessed
    underscored = resource_name("labeltune", "run_abc")
    assert underscored != resource_name("labeltune", "run-abc")
    assert run_id_from_name("labeltune", underscored) is None
    assert run_id_from_name("labeltune", resource_name("labeltune", "run-h0123456789")) is None
    # A run id spelled like another run's shortened name does not get that name.
    long_name = resource_name("labeltune", "x" * 80)
    look_alike = long_name.removeprefix("labeltune-")
    assert resource_name("labeltune", look_alike) != long_name
    assert run_id_from_name("other", "labeltune-run-abc") is None  # another stack's job


def test_a_prefix_without_a_letter_or_digit_is_refused_at_construction(bedrock: Any) -> None:
    with pytest.raises(Exception, match="name prefix"):
        BedrockServing(bedrock, name_prefix="---")


@pytest.mark.parametrize("run_id", ["_" * 80, "a-_-b", "run-h0123456789"])
def test_bedrock_accepts_worst_case_names_for_jobs_and_deployments(
    emulator: BedrockEmulator, bedrock: Any, bucket: str, train_uri: str, run_id: str
) -> None:
    prefix = "A" + "-" * 30
    provider = BedrockFineTuning(bedrock, bucket=bucket, job_role_arn=ROLE_ARN, name_prefix=prefix)
    job = create(provider, run_id, train_uri)
    assert job.run_id is None  # shortened or escaped: the run id is not guessed
    emulator.complete_job(job.job_id)
    assert [found.job_id for found in provider.find_jobs(run_id)] == [job.job_id]
    served = BedrockServing(bedrock, name_prefix=prefix)
    endpoint = served.serve(run_id, provider.get_job(job.job_id).fine_tuned_model)
    assert served.release(run_id) == [endpoint.endpoint_id]


# -- fine-tuning jobs ------------------------------------------------------------------------------------------


def test_staging_returns_the_uri_and_never_reads_the_lines(fine_tuning: BedrockFineTuning, run_id: str) -> None:
    def lines() -> Iterator[str]:
        raise AssertionError("the lines were read")
        yield ""

    uri = f"s3://bucket/runs/{run_id}/train.jsonl"
    assert fine_tuning.stage_training_file(run_id, "train", uri, lines()) == uri
    assert fine_tuning.delete_run_files(run_id) == 0


def test_a_retried_create_returns_the_same_job_and_bedrock_holds_one(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    first = create(fine_tuning, run_id, train_uri)
    again = create(fine_tuning, run_id, train_uri)
    assert again.job_id == first.job_id
    name = f"{PREFIX}-{run_id}"
    assert len(held_jobs(emulator, name)) == 1
    sent = requests_of(emulator, "CreateModelCustomizationJob", jobName=name)
    assert [(body["customModelName"], body["clientRequestToken"], status) for body, status in sent] == [
        (name, name, 201),
        (name, name, 201),
    ]
    assert first.run_id == run_id and first.base_model == NOVA_MICRO
    assert first.state is JobState.PENDING and first.status == "InProgress"
    assert first.created_at is not None and abs(first.created_at - time.time()) < 60


def test_a_create_whose_answer_was_lost_is_found_by_its_retry(
    emulator: BedrockEmulator, bucket: str, run_id: str, train_uri: str
) -> None:
    once = BedrockFineTuning(
        emulator.client("bedrock", config=NO_RETRIES), bucket=bucket, job_role_arn=ROLE_ARN, name_prefix=PREFIX
    )
    emulator.faults.fail_next(
        1, error="InternalServerException", operation="CreateModelCustomizationJob", after_processing=True
    )
    with pytest.raises(TransientError, match="InternalServerException"):
        create(once, run_id, train_uri)
    job = create(once, run_id, train_uri)
    assert [held["jobArn"] for held in held_jobs(emulator, f"{PREFIX}-{run_id}")] == [job.job_id]


def test_a_create_that_differs_from_the_first_returns_the_runs_job(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    first = create(fine_tuning, run_id, train_uri, hyperparameters=Hyperparameters(n_epochs=2))
    # The same token with another request: Bedrock answers ConflictException; the name's job is the run's.
    again = create(fine_tuning, run_id, train_uri, hyperparameters=Hyperparameters(n_epochs=3))
    assert again.job_id == first.job_id
    assert [
        status for _, status in requests_of(emulator, "CreateModelCustomizationJob", jobName=f"{PREFIX}-{run_id}")
    ] == [
        201,
        400,
    ]
    assert len(held_jobs(emulator, f"{PREFIX}-{run_id}")) == 1


def test_find_jobs_finds_the_runs_job_on_any_page_and_ignores_other_runs(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(bedrock_provider, "LIST_PAGE_SIZE", 1)
    assert fine_tuning.find_jobs(run_id) == []
    lookalikes = [create(fine_tuning, f"{run_id}{suffix}", train_uri) for suffix in ("0", "-b")]  # contain its name
    job = create(fine_tuning, run_id, train_uri)
    create(fine_tuning, f"run-{uuid.uuid4().hex[:24]}", train_uri)
    found = fine_tuning.find_jobs(run_id)
    assert [(j.job_id, j.run_id) for j in found] == [(job.job_id, run_id)]
    assert [j.job_id for j in fine_tuning.find_jobs(f"{run_id}0")] == [lookalikes[0].job_id]
    pages = requests_of(emulator, "ListModelCustomizationJobs", nameContains=f"{PREFIX}-{run_id}")
    assert len(pages) >= 1 + 3  # the empty look, then one job a page: every page was read


@pytest.mark.parametrize(
    ("hyperparameters", "sent"),
    [
        (
            Hyperparameters(n_epochs=3, learning_rate=1e-05, learning_rate_warmup_steps=5),
            {"epochCount": "3", "learningRate": "0.00001", "learningRateWarmupSteps": "5"},
        ),
        (Hyperparameters(learning_rate=2.5e-06), {"learningRate": "0.0000025"}),
        (Hyperparameters(learning_rate=0.0001, batch_size=8, learning_rate_multiplier=2.0), {"learningRate": "0.0001"}),
        (Hyperparameters(), None),
    ],
)
def test_create_sends_only_bedrock_hyperparameters_as_plain_decimal_strings(
    fine_tuning: BedrockFineTuning,
    emulator: BedrockEmulator,
    bucket: str,
    run_id: str,
    train_uri: str,
    hyperparameters: Hyperparameters,
    sent: dict[str, str] | None,
) -> None:
    validation_uri = f"s3://{bucket}/data/validation.jsonl"
    job = create(fine_tuning, run_id, train_uri, validation_file=validation_uri, hyperparameters=hyperparameters)
    [(body, status)] = requests_of(emulator, "CreateModelCustomizationJob", jobName=f"{PREFIX}-{run_id}")
    assert status == 201
    assert body.get("hyperParameters") == sent
    assert body["customizationType"] == "FINE_TUNING" and body["roleArn"] == ROLE_ARN
    assert body["baseModelIdentifier"] == NOVA_MICRO
    assert body["trainingDataConfig"] == {"s3Uri": train_uri}
    assert body["validationDataConfig"] == {"validators": [{"s3Uri": validation_uri}]}
    assert body["outputDataConfig"] == {"s3Uri": f"s3://{bucket}/runs/{run_id}/provider-output/"}
    assert job.state is JobState.PENDING


def test_no_validation_data_is_sent_without_a_validation_file(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    create(fine_tuning, run_id, train_uri)
    [(body, _)] = requests_of(emulator, "CreateModelCustomizationJob", jobName=f"{PREFIX}-{run_id}")
    assert "validationDataConfig" not in body and "hyperParameters" not in body


@pytest.mark.parametrize(
    ("value", "text"), [(1e-05, "0.00001"), (1e-06, "0.000001"), (0.0001, "0.0001"), (3.5e-05, "0.000035"), (5, "5")]
)
def test_plain_decimal(value: float, text: str) -> None:
    assert plain_decimal(value) == text


def test_a_completed_job_succeeds_with_its_custom_model(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    job = create(fine_tuning, run_id, train_uri, base_model=f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_MICRO}")
    assert (job.state, job.status) == (JobState.PENDING, "InProgress")
    held = emulator.complete_job(job.job_id)
    done = fine_tuning.get_job(job.job_id)
    assert (done.state, done.status) == (JobState.SUCCEEDED, "Completed")
    assert done.fine_tuned_model == held["outputModelArn"] and ":custom-model/" in held["outputModelArn"]
    assert done.base_model == NOVA_MICRO and done.trained_tokens is None and done.error_message is None
    assert done.run_id == run_id and done.created_at == job.created_at
    [listed] = fine_tuning.find_jobs(run_id)  # from the listing's summary
    assert (listed.state, listed.fine_tuned_model) == (JobState.SUCCEEDED, held["outputModelArn"])


def test_a_job_on_invalid_data_fails_with_bedrocks_message(
    fine_tuning: BedrockFineTuning, bucket: str, run_id: str
) -> None:
    job = create(fine_tuning, run_id, f"s3://{bucket}/data/invalid.jsonl")
    assert job.state is JobState.PENDING  # Bedrock accepts the job and validates the data while it runs
    failed = wait_until(lambda: fine_tuning.get_job(job.job_id), lambda j: j.state is not JobState.PENDING)
    assert (failed.state, failed.status) == (JobState.FAILED, "Failed")
    assert failed.error_message.startswith(f"Data validation failed for s3://{bucket}/data/invalid.jsonl")
    assert "User:" in failed.error_message
    [listed] = fine_tuning.find_jobs(run_id)  # a summary has no failureMessage: the job is read for it
    assert listed.error_message == failed.error_message


def test_cancelling_a_running_job_stops_it(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    job = create(fine_tuning, run_id, train_uri)
    stopping = fine_tuning.cancel_job(job.job_id)
    assert stopping.status in ("Stopping", "Stopped")
    stopped = wait_until(lambda: fine_tuning.get_job(job.job_id), lambda j: j.status == "Stopped")
    assert (stopped.state, stopped.status, stopped.error_message) == (JobState.FAILED, "Stopped", STOPPED_MESSAGE)
    assert stopped.fine_tuned_model is None
    assert [status for _, status in requests_of(emulator, "StopModelCustomizationJob")][-1] == 200


def test_cancelling_a_finished_job_is_not_an_error(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    job = completed(fine_tuning, emulator, run_id, train_uri)
    emulator.clear_exchanges()
    assert fine_tuning.cancel_job(job.job_id).state is JobState.SUCCEEDED
    [(_, status)] = requests_of(emulator, "StopModelCustomizationJob")
    assert status == 400  # Bedrock refused: the job was no longer in progress


# -- serving -------------------------------------------------------------------------------------------------------


def test_serve_is_idempotent_and_release_deletes_the_runs_deployment_once(
    fine_tuning: BedrockFineTuning,
    serving: BedrockServing,
    chat: BedrockChat,
    emulator: BedrockEmulator,
    run_id: str,
    train_uri: str,
) -> None:
    job = completed(fine_tuning, emulator, run_id, train_uri)
    name = f"{PREFIX}-{run_id}"
    other = completed(fine_tuning, emulator, f"{run_id}0", train_uri)  # its name contains this run's name
    kept = serving.serve(f"{run_id}0", other.fine_tuned_model)

    endpoint = serving.serve(run_id, job.fine_tuned_model)
    assert (endpoint.state, endpoint.status) == (EndpointState.PENDING, "Creating")
    assert ":custom-model-deployment/" in endpoint.endpoint_id and endpoint.model_id == endpoint.endpoint_id
    assert serving.serve(run_id, job.fine_tuned_model).endpoint_id == endpoint.endpoint_id
    assert [d["customModelDeploymentArn"] for d in held_deployments(emulator, name)] == [endpoint.endpoint_id]
    sent = requests_of(emulator, "CreateCustomModelDeployment", modelDeploymentName=name)
    assert {(body["clientRequestToken"], body["modelArn"]) for body, _ in sent} == {(name, job.fine_tuned_model)}

    active = ready(serving, endpoint)
    assert (active.state, active.status, active.message) == (EndpointState.READY, "Active", None)
    assert chat.complete(active.model_id, SYSTEM, transcript(3)) == TOPICS[3][1]  # the tuned model answers

    assert serving.release(run_id) == [endpoint.endpoint_id]
    assert serving.release(run_id) == []
    assert held_deployments(emulator, name) == []
    assert [d["customModelDeploymentArn"] for d in held_deployments(emulator, f"{name}0")] == [kept.endpoint_id]


def test_serve_finds_a_deployment_already_made_under_the_runs_name(
    fine_tuning: BedrockFineTuning,
    serving: BedrockServing,
    bedrock: Any,
    emulator: BedrockEmulator,
    run_id: str,
    train_uri: str,
) -> None:
    job = completed(fine_tuning, emulator, run_id, train_uri)
    name = f"{PREFIX}-{run_id}"
    made = bedrock.create_custom_model_deployment(
        modelDeploymentName=name, modelArn=job.fine_tuned_model, clientRequestToken="another-attempt"
    )["customModelDeploymentArn"]
    assert serving.serve(run_id, job.fine_tuned_model).endpoint_id == made
    assert [status for _, status in requests_of(emulator, "CreateCustomModelDeployment", modelDeploymentName=name)][
        -1
    ] == 400  # the name was taken
    assert len(held_deployments(emulator, name)) == 1
    serving.release(run_id)


def test_a_failed_deployment_reports_bedrocks_message(
    fine_tuning: BedrockFineTuning, serving: BedrockServing, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    job = completed(fine_tuning, emulator, run_id, train_uri)
    endpoint = serving.serve(run_id, job.fine_tuned_model)
    emulator.fail_deployment(endpoint.endpoint_id, "Insufficient capacity for the deployment.")
    failed = serving.endpoint(endpoint.endpoint_id)
    assert (failed.state, failed.status) == (EndpointState.FAILED, "Failed")
    assert failed.message == "Insufficient capacity for the deployment."
    assert serving.release(run_id) == [endpoint.endpoint_id]


def test_serving_an_unknown_model_is_refused(serving: BedrockServing, run_id: str) -> None:
    unknown = f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{NOVA_MICRO}/abcdefghijkl"
    with pytest.raises(ProviderRefused, match=r"^Bedrock: ResourceNotFoundException: "):
        serving.serve(run_id, unknown)


# -- chat ----------------------------------------------------------------------------------------------------------


def test_converse_answers_with_the_joined_text_at_temperature_zero(
    chat: BedrockChat, emulator: BedrockEmulator
) -> None:
    emulator.clear_exchanges()
    answer = chat.complete(ON_DEMAND_MICRO, SYSTEM, transcript(1))
    [exchange] = [e for e in emulator.exchanges if e.operation == "Converse"]
    sent = exchange.request_json()
    assert sent["system"] == [{"text": SYSTEM}]
    assert sent["messages"] == [{"role": "user", "content": [{"text": transcript(1)}]}]
    assert sent["inferenceConfig"] == {"temperature": 0.0, "maxTokens": bedrock_provider.DEFAULT_MAX_TOKENS}
    blocks = exchange.json()["output"]["message"]["content"]
    assert answer and answer == "".join(block["text"] for block in blocks)


def test_a_refused_converse_keeps_its_code_and_never_repeats_the_chat(
    chat: BedrockChat, runtime: Any, emulator: BedrockEmulator
) -> None:
    secret = "Maria Gonzalez, maria@example.com"
    emulator.faults.fail_next(
        1,
        error="ValidationException",
        operation="Converse",
        message=f"1 validation error detected: Value '{secret}' at 'messages.1.member.content' failed.",
    )
    with pytest.raises(ClientError) as raised:
        chat.complete(ON_DEMAND_MICRO, SYSTEM, secret)
    assert isinstance(raised.value, runtime.exceptions.ValidationException)
    assert secret not in "".join(traceback.format_exception(raised.value))


# -- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ("CreateModelCustomizationJob", "ThrottlingException"),
        ("GetModelCustomizationJob", "InternalServerException"),
        ("ListCustomModelDeployments", "ServiceUnavailableException"),
        ("Converse", "ThrottlingException"),
        ("Converse", "ModelNotReadyException"),
    ],
)
def test_what_outlasts_botocores_retries_is_transient(
    fine_tuning: BedrockFineTuning,
    serving: BedrockServing,
    chat: BedrockChat,
    emulator: BedrockEmulator,
    run_id: str,
    train_uri: str,
    operation: str,
    error: str,
) -> None:
    calls: dict[str, Callable[[], Any]] = {
        "CreateModelCustomizationJob": lambda: create(fine_tuning, run_id, train_uri),
        "GetModelCustomizationJob": lambda: fine_tuning.get_job(job_arn),
        "ListCustomModelDeployments": lambda: serving.release(run_id),
        "Converse": lambda: chat.complete(ON_DEMAND_MICRO, SYSTEM, transcript(2)),
    }
    job_arn = create(fine_tuning, f"{run_id}-x", train_uri).job_id
    emulator.clear_exchanges()
    emulator.faults.fail_next(5, error=error, operation=operation)
    with pytest.raises(TransientError, match=f"^Bedrock {error}: ."):
        calls[operation]()
    answered = [e.status for e in emulator.exchanges if e.operation == operation]
    assert len(answered) == 4 and all(status >= 400 for status in answered)  # botocore tried 4 times
    emulator.faults.clear()
    calls[operation]()  # and once it passes, the same call works


def test_a_connection_that_fails_is_transient(bucket: str, run_id: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    client = boto3.client(
        "bedrock",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )
    provider = BedrockFineTuning(client, bucket=bucket, job_role_arn=ROLE_ARN, name_prefix=PREFIX)
    with pytest.raises(TransientError, match="EndpointConnectionError"):
        provider.find_jobs(run_id)


def test_a_read_timeout_is_transient(emulator: BedrockEmulator) -> None:
    impatient = BedrockChat(
        emulator.client(
            "bedrock-runtime", config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=0.2)
        )
    )
    emulator.faults.stall_next(1, seconds=0.6, operation="Converse")
    with pytest.raises(TransientError, match="ReadTimeoutError"):
        impatient.complete(ON_DEMAND_MICRO, SYSTEM, transcript(4))


def test_a_base_model_bedrock_cannot_fine_tune_is_refused(
    fine_tuning: BedrockFineTuning, run_id: str, train_uri: str
) -> None:
    with pytest.raises(ProviderRefused, match=r"^Bedrock: ValidationException: .*can't be fine-tuned"):
        create(fine_tuning, run_id, train_uri, base_model=ON_DEMAND_MICRO)


@pytest.mark.parametrize(
    "error", ["AccessDeniedException", "ServiceQuotaExceededException", "ResourceNotFoundException"]
)
def test_a_create_bedrock_refuses_for_good_fails_the_run(
    fine_tuning: BedrockFineTuning, emulator: BedrockEmulator, run_id: str, train_uri: str, error: str
) -> None:
    emulator.faults.fail_next(1, error=error, operation="CreateModelCustomizationJob", message="Refused for the test.")
    with pytest.raises(ProviderRefused, match=f"^Bedrock: {error}: Refused for the test.$"):
        create(fine_tuning, run_id, train_uri)
    assert held_jobs(emulator, f"{PREFIX}-{run_id}") == []


def test_a_deployment_bedrock_will_not_delete_yet_is_retried_later(
    fine_tuning: BedrockFineTuning, serving: BedrockServing, emulator: BedrockEmulator, run_id: str, train_uri: str
) -> None:
    job = completed(fine_tuning, emulator, run_id, train_uri)
    endpoint = serving.serve(run_id, job.fine_tuned_model)
    emulator.faults.fail_next(1, error="ConflictException", operation="DeleteCustomModelDeployment")
    with pytest.raises(TransientError, match=r"^Bedrock ConflictException: "):
        serving.release(run_id)
    assert serving.release(run_id) == [endpoint.endpoint_id]
