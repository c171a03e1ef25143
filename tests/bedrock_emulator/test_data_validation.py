"""Bad training data: the job is accepted and then fails, as Bedrock fails it, with a failureMessage."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from labeltune_tools.bedrock_emulator import BedrockEmulator
from tests.bedrock_emulator.conftest import NOVA_2_LITE, job_request, jsonl, record, wait_for_job

GOOD = [record(i) for i in range(10)]


def _with(index: int, change: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    records = copy.deepcopy(GOOD)
    change(records[index])
    return records


def _message(position: int, text: str) -> Callable[[dict[str, Any]], None]:
    def change(item: dict[str, Any]) -> None:
        item["messages"][position]["content"] = [{"text": text}]

    return change


CASES: dict[str, tuple[bytes | list[dict[str, Any]] | list[str], str]] = {
    "not JSONL": (b"schemaVersion,messages\nbedrock-conversation-2024,hello\n", "Line 1 is not valid JSON"),
    "a JSON array, not JSONL": (b"[" + jsonl(GOOD).replace(b"\n", b",")[:-1] + b"]", "Line 1: expected a JSON object"),
    "not UTF-8": (b"\xff\xfe" + jsonl(GOOD), "not UTF-8 text (byte 0)"),
    "no schemaVersion": (_with(3, lambda r: r.pop("schemaVersion")), "Line 4: 'schemaVersion' must be"),
    "an OpenAI record": (
        [*GOOD[:5], {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, *GOOD],
        "Line 6: 'schemaVersion' must be 'bedrock-conversation-2024'",
    ),
    "string content": (
        _with(0, lambda r: r["messages"][0].update(content="hi")),
        "Line 1, message 1: 'content' must be a non-empty list",
    ),
    "a system prompt that is a string": (_with(2, lambda r: r.update(system="Be brief.")), "Line 3: 'system' must be"),
    "starting with the assistant": (
        _with(1, lambda r: r["messages"].reverse()),
        "Line 2, message 1: roles must alternate user/assistant, starting with user",
    ),
    "two user messages in a row": (
        _with(1, lambda r: r["messages"].insert(1, r["messages"][0])),
        "Line 2, message 2: roles must alternate",
    ),
    "ending with the user": (
        _with(4, lambda r: r["messages"].append({"role": "user", "content": [{"text": "and?"}]})),
        "Line 5: the last message must be from the assistant",
    ),
    "a system role in messages": (
        _with(4, lambda r: r["messages"].insert(0, {"role": "system", "content": [{"text": "x"}]})),
        "Line 5, message 1: 'role' must be 'user' or 'assistant'",
    ),
    "no messages": (_with(7, lambda r: r.update(messages=[])), "Line 8: 'messages' must be a non-empty list"),
    "empty text": (_with(0, _message(1, "  ")), "Line 1, message 2, content block 1: 'text' must be a non-empty"),
    "an image block": (
        _with(0, lambda r: r["messages"][0]["content"].append({"image": {"format": "png"}})),
        "only text blocks are emulated (got image)",
    ),
    "User: in a user message": (
        _with(5, _message(0, "User: my order is late")),
        "Line 6, message 1 contains the reserved keyword 'User:'",
    ),
    "Assistant: in an answer": (
        _with(5, _message(1, "Assistant: here is the summary")),
        "Line 6, message 2 contains the reserved keyword 'Assistant:'",
    ),
    "[EOS] in the system prompt": (
        _with(9, lambda r: r.update(system=[{"text": "Summarise.[EOS]"}])),
        "Line 10, system contains the reserved keyword '[EOS]'",
    ),
    "too few records for Nova Micro": (
        GOOD[:7],
        "the file has 7 records; amazon.nova-micro-v1:0:128k needs at least 8",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_training_data_fails_the_job_with_a_failure_message(
    bedrock: Any, put: Callable[..., str], emulator: BedrockEmulator, case: str
) -> None:
    content, words = CASES[case]
    uri = put(content)
    arn = bedrock.create_model_customization_job(**job_request(uri))["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"  # accepted first
    job = wait_for_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith(f"Data validation failed for {uri}: ")
    assert words in job["failureMessage"]
    assert job["statusDetails"]["validationDetails"]["status"] == "Failed"
    assert job["statusDetails"]["trainingDetails"] == {"status": "NotStarted"}
    assert "outputModelArn" not in job and "endTime" in job
    assert emulator.custom_models() == []


def test_blank_lines_are_ignored(bedrock: Any, put: Callable[..., str]) -> None:
    uri = put(b"\n" + jsonl(GOOD).replace(b"\n", b"\n\n"))
    arn = bedrock.create_model_customization_job(**job_request(uri))["jobArn"]
    assert wait_for_job(bedrock, arn)["status"] == "Completed"


def test_a_multi_turn_record_without_a_system_prompt_is_valid(bedrock: Any, put: Callable[..., str]) -> None:
    turns = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": "first"}]},
            {"role": "assistant", "content": [{"text": "one"}]},
            {"role": "user", "content": [{"text": "second"}, {"text": "part two"}]},
            {"role": "assistant", "content": [{"text": "two"}]},
        ],
    }
    uri = put([*GOOD, turns])
    arn = bedrock.create_model_customization_job(**job_request(uri))["jobArn"]
    assert wait_for_job(bedrock, arn)["status"] == "Completed"


def test_missing_training_data_fails_the_job(bedrock: Any, bucket: str) -> None:
    uri = f"s3://{bucket}/nothing-here.jsonl"
    arn = bedrock.create_model_customization_job(**job_request(uri))["jobArn"]
    job = wait_for_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert job["failureMessage"] == f"Unable to read the data at {uri}: NoSuchKey."


def test_a_prefix_is_not_training_data(bedrock: Any, bucket: str) -> None:
    arn = bedrock.create_model_customization_job(**job_request(f"s3://{bucket}/data/"))["jobArn"]
    assert "must name a file" in wait_for_job(bedrock, arn)["failureMessage"]


def test_an_emulator_without_s3_refuses_jobs(make_emulator: Any, training_uri: str) -> None:
    bedrock = make_emulator(s3_client=None).client("bedrock")
    with pytest.raises(bedrock.exceptions.ValidationException, match="no S3 client"):
        bedrock.create_model_customization_job(**job_request(training_uri))


@pytest.mark.parametrize(("count", "status"), [(7, "Failed"), (8, "Completed")])
def test_nova_1_models_need_8_records(bedrock: Any, put: Callable[..., str], count: int, status: str) -> None:
    uri = put([record(i) for i in range(count)])
    arn = bedrock.create_model_customization_job(**job_request(uri))["jobArn"]
    assert wait_for_job(bedrock, arn)["status"] == status


@pytest.mark.parametrize(("count", "status"), [(199, "Failed"), (200, "Completed")])
def test_nova_2_lite_needs_200_records(bedrock: Any, put: Callable[..., str], count: int, status: str) -> None:
    uri = put([record(i) for i in range(count)])
    arn = bedrock.create_model_customization_job(**job_request(uri, baseModelIdentifier=NOVA_2_LITE))["jobArn"]
    job = wait_for_job(bedrock, arn)
    assert job["status"] == status
    if status == "Failed":
        assert "the file has 199 records; amazon.nova-2-lite-v1:0:256k needs at least 200" in job["failureMessage"]


@pytest.mark.parametrize("model_id", ["amazon.nova-lite-v1:0:300k", NOVA_2_LITE])
def test_at_most_20000_records(bedrock: Any, put: Callable[..., str], model_id: str) -> None:
    tiny = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}],
    }
    line = jsonl([tiny]).strip().decode()
    uri = put([line] * 20_001)
    arn = bedrock.create_model_customization_job(**job_request(uri, baseModelIdentifier=model_id))["jobArn"]
    job = wait_for_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert f"the file has 20001 records; {model_id} accepts at most 20000" in job["failureMessage"]


def test_a_bad_validation_file_fails_a_nova_1_job(bedrock: Any, put: Callable[..., str], training_uri: str) -> None:
    validation_uri = put(["not json"], key="validation.jsonl")
    request = job_request(training_uri, validationDataConfig={"validators": [{"s3Uri": validation_uri}]})
    job = wait_for_job(bedrock, bedrock.create_model_customization_job(**request)["jobArn"])
    assert job["status"] == "Failed"
    assert job["failureMessage"].startswith(f"Data validation failed for {validation_uri}: Line 1 is not valid JSON")


def test_a_validation_file_gives_validation_metrics(bedrock: Any, put: Callable[..., str], training_uri: str) -> None:
    validation_uri = put(GOOD[:2], key="validation.jsonl")
    request = job_request(training_uri, validationDataConfig={"validators": [{"s3Uri": validation_uri}]})
    job = wait_for_job(bedrock, bedrock.create_model_customization_job(**request)["jobArn"])
    assert job["status"] == "Completed"
    assert job["validationDataConfig"] == {"validators": [{"s3Uri": validation_uri}]}
    assert len(job["validationMetrics"]) == 1 and job["validationMetrics"][0]["validationLoss"] > 0


def test_nova_2_lite_ignores_the_validation_set(bedrock: Any, put: Callable[..., str]) -> None:
    training = put([record(i) for i in range(200)])
    broken_validation = put(["not json"], key="validation.jsonl")
    request = job_request(
        training,
        baseModelIdentifier=NOVA_2_LITE,
        validationDataConfig={"validators": [{"s3Uri": broken_validation}]},
    )
    job = wait_for_job(bedrock, bedrock.create_model_customization_job(**request)["jobArn"])
    assert job["status"] == "Completed"
    assert "validationMetrics" not in job
