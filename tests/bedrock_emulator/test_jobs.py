"""Model customization jobs through boto3's `bedrock` client: lifecycle, idempotency, validation, stop, listing."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from labeltune_tools.bedrock_emulator import BedrockEmulator
from tests.bedrock_emulator.conftest import JOB_SECONDS, NOVA_MICRO, ROLE_ARN, job_request, wait_for_job


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_job_runs_in_progress_then_completes_with_a_custom_model(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri)
    created = bedrock.create_model_customization_job(**request)
    arn = created["jobArn"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert arn.startswith(f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/{NOVA_MICRO}/")

    running = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert running["status"] == "InProgress"
    assert running["statusDetails"]["validationDetails"]["status"] == "InProgress"
    assert running["statusDetails"]["trainingDetails"] == {"status": "NotStarted"}
    assert "outputModelArn" not in running and "endTime" not in running
    assert running["outputModelName"] == request["customModelName"]
    assert running["baseModelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_MICRO}"
    assert running["hyperParameters"] == request["hyperParameters"]
    assert running["validationDataConfig"] == {"validators": []}

    done = wait_for_job(bedrock, request["jobName"])  # by name as well as by ARN
    assert done["status"] == "Completed"
    assert done["endTime"] - done["creationTime"] >= timedelta(seconds=JOB_SECONDS * 0.99)
    assert {d["status"] for d in done["statusDetails"].values()} == {"Completed"}
    assert done["trainingMetrics"]["trainingLoss"] > 0
    model_arn = done["outputModelArn"]
    assert model_arn.startswith(f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{NOVA_MICRO}/")

    model = bedrock.get_custom_model(modelIdentifier=model_arn)
    assert model["modelName"] == request["customModelName"]
    assert model["jobArn"] == arn and model["modelStatus"] == "Active"
    assert bedrock.get_custom_model(modelIdentifier=request["customModelName"])["modelArn"] == model_arn


def test_default_hyperparameters_are_reported(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri)
    del request["hyperParameters"]
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert job["hyperParameters"] == {"epochCount": "2", "learningRate": "0.00001", "learningRateWarmupSteps": "10"}


def test_a_zero_duration_job_is_complete_on_its_first_read(make_emulator: Any, training_uri: str) -> None:
    bedrock = make_emulator(job_duration_seconds=0).client("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "Completed"


def test_the_same_client_request_token_returns_the_same_job(
    bedrock: Any, emulator: BedrockEmulator, training_uri: str
) -> None:
    request = job_request(training_uri, clientRequestToken="labeltune-run-42")
    first = bedrock.create_model_customization_job(**request)["jobArn"]
    again = bedrock.create_model_customization_job(**request)["jobArn"]
    assert again == first
    assert len(emulator.jobs()) == 1
    assert bedrock.get_model_customization_job(jobIdentifier=first)["clientRequestToken"] == "labeltune-run-42"


def test_a_different_request_with_a_used_token_is_a_conflict(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri, clientRequestToken="labeltune-run-43")
    bedrock.create_model_customization_job(**request)
    changed = {**request, "hyperParameters": {"epochCount": "3"}}
    with pytest.raises(ClientError) as raised:
        bedrock.create_model_customization_job(**changed)
    code, message, status = _error(raised)
    assert (code, status) == ("ConflictException", 400)
    assert "labeltune-run-43" in message
    assert isinstance(raised.value, bedrock.exceptions.ConflictException)


def test_a_job_name_in_use_is_a_conflict(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri)
    bedrock.create_model_customization_job(**request)
    with pytest.raises(bedrock.exceptions.ConflictException, match="already exists"):
        bedrock.create_model_customization_job(**{**request, "customModelName": "another-model"})
    with pytest.raises(bedrock.exceptions.ConflictException, match="custom model"):
        bedrock.create_model_customization_job(**{**request, "jobName": "another-job"})


@pytest.mark.parametrize(
    ("member", "value", "constraint"),
    [
        ("jobName", "bad_name!", "regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*"),
        ("jobName", "-leading-hyphen", "regular expression pattern"),
        ("jobName", "a" * 64, "length less than or equal to 63"),
        ("customModelName", "two__underscores", "regular expression pattern: ([0-9a-zA-Z][_-]?){1,63}"),
        ("customModelName", "has.dot", "regular expression pattern"),
        ("customModelName", "m" * 64, "length less than or equal to 63"),
        ("roleArn", "not-an-arn", "regular expression pattern"),
        ("customizationType", "FINETUNING", "enum value set"),
    ],
)
def test_names_and_members_are_checked_against_the_model(
    bedrock: Any, training_uri: str, member: str, value: str, constraint: str
) -> None:
    with pytest.raises(ClientError) as raised:
        bedrock.create_model_customization_job(**job_request(training_uri, **{member: value}))
    code, message, status = _error(raised)
    assert (code, status) == ("ValidationException", 400)
    # AWS's wording; a name can break more than one constraint (64 characters also break {1,63}).
    assert re.match(r"[12] validation errors? detected: ", message)
    assert f"Value '{value}' at '{member}' failed to satisfy constraint: Member must " in message
    assert constraint in message


def test_valid_names_are_accepted(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri, jobName="Job-1.2+x--y", customModelName="model_1-b")
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["jobName"] == "Job-1.2+x--y"


def test_several_broken_constraints_are_reported_together(bedrock: Any, training_uri: str) -> None:
    with pytest.raises(ClientError) as raised:
        bedrock.create_model_customization_job(
            **job_request(training_uri, jobName="bad name", outputDataConfig={"s3Uri": "http://not-s3"})
        )
    _, message, _ = _error(raised)
    assert message.startswith("2 validation errors detected: ")
    assert "at 'jobName'" in message and "at 'outputDataConfig.s3Uri'" in message


def test_missing_required_members_never_leave_boto3(bedrock: Any, training_uri: str) -> None:
    request = job_request(training_uri)
    del request["roleArn"]
    with pytest.raises(ParamValidationError):
        bedrock.create_model_customization_job(**request)


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("amazon.nova-micro-v1:0", "use its customizable variant amazon.nova-micro-v1:0:128k"),
        ("amazon.titan-text-express-v1", "not a customizable model"),
    ],
)
def test_the_base_model_must_be_a_customizable_nova_model(
    bedrock: Any, training_uri: str, identifier: str, words: str
) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match=words):
        bedrock.create_model_customization_job(**job_request(training_uri, baseModelIdentifier=identifier))


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
    ],
)
def test_each_customizable_nova_1_model_is_accepted(bedrock: Any, training_uri: str, model_id: str) -> None:
    arn = bedrock.create_model_customization_job(**job_request(training_uri, baseModelIdentifier=model_id))["jobArn"]
    assert wait_for_job(bedrock, arn)["status"] == "Completed"


def test_other_customization_types_are_refused(bedrock: Any, training_uri: str) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="CONTINUED_PRE_TRAINING is not emulated"):
        bedrock.create_model_customization_job(**job_request(training_uri, customizationType="CONTINUED_PRE_TRAINING"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("epochCount", "0"),
        ("epochCount", "6"),
        ("epochCount", "2.5"),
        ("learningRate", "0.0000009"),
        ("learningRate", "0.0002"),
        ("learningRate", "fast"),
        ("learningRateWarmupSteps", "101"),
        ("learningRateWarmupSteps", "-1"),
        ("batchSize", "0"),
    ],
)
def test_hyperparameters_out_of_range_are_refused(bedrock: Any, training_uri: str, name: str, value: str) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.create_model_customization_job(**job_request(training_uri, hyperParameters={name: value}))
    assert f"hyperparameter {name} is invalid" in str(raised.value)


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"epochCount": "1", "learningRate": "0.000001", "learningRateWarmupSteps": "0"},
        {"epochCount": "5", "learningRate": "1e-4", "learningRateWarmupSteps": "100", "batchSize": "8"},
    ],
)
def test_hyperparameters_at_their_bounds_are_accepted(
    bedrock: Any, training_uri: str, hyperparameters: dict[str, str]
) -> None:
    arn = bedrock.create_model_customization_job(**job_request(training_uri, hyperParameters=hyperparameters))["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["hyperParameters"].items() >= hyperparameters.items()


def test_unknown_hyperparameters_are_refused(bedrock: Any, training_uri: str) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="hyperparameter temperature is not supported"):
        bedrock.create_model_customization_job(**job_request(training_uri, hyperParameters={"temperature": "1"}))


def test_an_unknown_job_is_not_found(bedrock: Any) -> None:
    with pytest.raises(ClientError) as raised:
        bedrock.get_model_customization_job(jobIdentifier="no-such-job")
    assert _error(raised)[0::2] == ("ResourceNotFoundException", 404)


def test_stop_moves_a_job_through_stopping_to_stopped(make_emulator: Any, training_uri: str) -> None:
    emulator = make_emulator(job_duration_seconds=5, stop_duration_seconds=0.2)
    bedrock = emulator.client("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    stopped = bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 200
    stopping = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert stopping["status"] == "Stopping"
    assert stopping["statusDetails"]["validationDetails"]["status"] == "Stopping"
    job = wait_for_job(bedrock, arn)
    assert job["status"] == "Stopped"
    assert "endTime" in job and "outputModelArn" not in job
    assert job["statusDetails"]["trainingDetails"] == {"status": "NotStarted"}


@pytest.mark.parametrize("status", ["Completed", "Stopping", "Failed"])
def test_a_job_that_is_not_in_progress_cannot_be_stopped(make_emulator: Any, training_uri: str, status: str) -> None:
    emulator = make_emulator(job_duration_seconds=5, stop_duration_seconds=5)
    bedrock = emulator.client("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    if status == "Completed":
        emulator.complete_job(arn)
    elif status == "Failed":
        emulator.fail_job(arn, "boom")
    else:
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    with pytest.raises(ClientError) as raised:
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    code, message, status_code = _error(raised)
    assert (code, status_code) == ("ValidationException", 400)
    assert f"it is in {status} status" in message


def test_list_filters_sorts_and_pages(make_emulator: Any, training_uri: str) -> None:
    emulator = make_emulator(job_duration_seconds=30)
    bedrock = emulator.client("bedrock")
    arns = []
    for name in ("alpha-1", "beta-1", "alpha-2"):
        arns.append(
            bedrock.create_model_customization_job(**job_request(training_uri, jobName=name, customModelName=name))[
                "jobArn"
            ]
        )
        time.sleep(0.01)
    emulator.complete_job("beta-1")

    everything = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert [s["jobName"] for s in everything] == ["alpha-2", "beta-1", "alpha-1"]  # newest first by default
    ascending = bedrock.list_model_customization_jobs(sortBy="CreationTime", sortOrder="Ascending")
    assert [s["jobArn"] for s in ascending["modelCustomizationJobSummaries"]] == arns

    alphas = bedrock.list_model_customization_jobs(nameContains="ALPHA")["modelCustomizationJobSummaries"]
    assert {s["jobName"] for s in alphas} == {"alpha-1", "alpha-2"}
    completed = bedrock.list_model_customization_jobs(statusEquals="Completed")["modelCustomizationJobSummaries"]
    assert [s["jobName"] for s in completed] == ["beta-1"]
    assert completed[0]["customModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert completed[0]["customModelName"] == "beta-1"

    after = datetime.now(UTC) + timedelta(hours=1)
    assert bedrock.list_model_customization_jobs(creationTimeAfter=after)["modelCustomizationJobSummaries"] == []
    assert len(bedrock.list_model_customization_jobs(creationTimeBefore=after)["modelCustomizationJobSummaries"]) == 3

    first = bedrock.list_model_customization_jobs(maxResults=2)
    assert len(first["modelCustomizationJobSummaries"]) == 2
    rest = bedrock.list_model_customization_jobs(maxResults=2, nextToken=first["nextToken"])
    assert [s["jobName"] for s in rest["modelCustomizationJobSummaries"]] == ["alpha-1"]
    assert "nextToken" not in rest
    pages = bedrock.get_paginator("list_model_customization_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert [s["jobName"] for page in pages for s in page["modelCustomizationJobSummaries"]] == [
        "alpha-2",
        "beta-1",
        "alpha-1",
    ]


def test_list_refuses_a_bad_status_and_a_bad_token(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="enum value set"):
        bedrock.list_model_customization_jobs(statusEquals="Running")
    with pytest.raises(bedrock.exceptions.ValidationException, match="pagination token"):
        bedrock.list_model_customization_jobs(nextToken="garbage")


def test_list_foundation_models_by_fine_tuning_returns_the_customizable_nova_models(bedrock: Any) -> None:
    summaries = bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]
    assert [s["modelId"] for s in summaries] == [
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
        "amazon.nova-2-lite-v1:0:256k",
    ]
    for summary in summaries:
        assert "FINE_TUNING" in summary["customizationsSupported"]
        assert summary["modelLifecycle"]["status"] == "ACTIVE"
        assert summary["providerName"] == "Amazon"
        assert summary["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{summary['modelId']}"
    on_demand = bedrock.list_foundation_models(byInferenceType="ON_DEMAND", byProvider="amazon")["modelSummaries"]
    assert {s["modelId"] for s in on_demand} == {
        "amazon.nova-micro-v1:0",
        "amazon.nova-lite-v1:0",
        "amazon.nova-pro-v1:0",
        "amazon.nova-2-lite-v1:0",
    }
    assert bedrock.list_foundation_models(byProvider="Anthropic")["modelSummaries"] == []


def test_the_role_arn_is_echoed_and_an_unknown_custom_model_is_not_found(bedrock: Any, training_uri: str) -> None:
    arn = bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["roleArn"] == ROLE_ARN
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier="not-created-yet")
