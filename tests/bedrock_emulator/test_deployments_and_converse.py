"""Custom model deployments and Converse: the base model leaks PII, the tuned one answers from its training data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labeltune_tools.bedrock_emulator import BedrockEmulator
from tests.bedrock_emulator.conftest import (
    DEPLOYMENT_SECONDS,
    SYSTEM,
    TOPICS,
    summary,
    transcript,
    wait_for_deployment,
)


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def _reply(response: dict[str, Any]) -> str:
    message = response["output"]["message"]
    assert message["role"] == "assistant"
    return str(message["content"][0]["text"])


def _deploy(bedrock: Any, model_arn: str, name: str = "labeltune-deployment", **extra: Any) -> str:
    return str(
        bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model_arn, **extra)[
            "customModelDeploymentArn"
        ]
    )


def test_a_deployment_is_creating_then_active(bedrock: Any, completed_model: dict[str, Any]) -> None:
    model_arn = completed_model["outputModelArn"]
    created = bedrock.create_custom_model_deployment(
        modelDeploymentName="labeltune-deployment", modelArn=model_arn, description="evaluation"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    arn = created["customModelDeploymentArn"]
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")
    creating = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert creating["status"] == "Creating"
    assert creating["modelArn"] == model_arn and creating["description"] == "evaluation"
    active = wait_for_deployment(bedrock, "labeltune-deployment")  # by name as well as by ARN
    assert active["status"] == "Active"
    assert active["lastUpdatedAt"] - active["createdAt"] >= timedelta(seconds=DEPLOYMENT_SECONDS * 0.99)


def test_deployments_are_idempotent_by_client_request_token(
    bedrock: Any, emulator: BedrockEmulator, completed_model: dict[str, Any]
) -> None:
    model_arn = completed_model["outputModelArn"]
    first = _deploy(bedrock, model_arn, clientRequestToken="deploy-1")
    assert _deploy(bedrock, model_arn, clientRequestToken="deploy-1") == first
    assert len(emulator.deployments()) == 1
    with pytest.raises(bedrock.exceptions.ValidationException, match="deploy-1 was already used"):
        _deploy(bedrock, model_arn, name="another-name", clientRequestToken="deploy-1")
    with pytest.raises(bedrock.exceptions.ValidationException, match="already exists"):
        _deploy(bedrock, model_arn)  # same name, new token


def test_deploying_an_unknown_model_is_not_found(bedrock: Any) -> None:
    unknown = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefghijkl"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        _deploy(bedrock, unknown)
    with pytest.raises(bedrock.exceptions.ValidationException, match="regular expression pattern"):
        _deploy(bedrock, "arn:aws:bedrock:us-east-1:123456789012:custom-model/not a model")
    with pytest.raises(bedrock.exceptions.ValidationException, match="at 'modelDeploymentName'"):
        _deploy(bedrock, unknown, name="bad name")


def test_list_and_delete_deployments(bedrock: Any, emulator: BedrockEmulator, completed_model: dict[str, Any]) -> None:
    model_arn = completed_model["outputModelArn"]
    first = _deploy(bedrock, model_arn, name="eval-a")
    second = _deploy(bedrock, model_arn, name="eval-b")
    emulator.activate_deployment(second)
    listed = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    assert [d["customModelDeploymentName"] for d in listed] == ["eval-b", "eval-a"]
    assert [d["customModelDeploymentArn"] for d in listed] == [second, first]
    active = bedrock.list_custom_model_deployments(statusEquals="Active")["modelDeploymentSummaries"]
    assert [d["customModelDeploymentArn"] for d in active] == [second]
    by_name = bedrock.list_custom_model_deployments(nameContains="a", sortOrder="Ascending")
    assert [d["customModelDeploymentName"] for d in by_name["modelDeploymentSummaries"]] == ["eval-a", "eval-b"]
    by_model = bedrock.list_custom_model_deployments(modelArnEquals=model_arn, maxResults=1)
    assert len(by_model["modelDeploymentSummaries"]) == 1 and "nextToken" in by_model

    deleted = bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [d["customModelDeploymentArn"] for d in emulator.deployments()] == [second]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=first)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)


def test_the_base_model_repeats_the_pii_of_the_chat(runtime: Any) -> None:
    response = runtime.converse(
        modelId="amazon.nova-micro-v1:0",
        system=[{"text": SYSTEM}],
        messages=_user(transcript(3)),
        inferenceConfig={"maxTokens": 500, "temperature": 0.0},
    )
    text = _reply(response)
    assert text.startswith("Summary: Maria Gonzalez3 contacted support")
    for pii in ("maria3@example.com", "555-010-1003", "ORD-500003", "Tom Baker"):
        assert pii in text
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 1


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.nova-lite-v1:0",
        "us.amazon.nova-pro-v1:0",
        "global.amazon.nova-2-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
    ],
)
def test_every_nova_model_answers_as_the_base_model(runtime: Any, model_id: str) -> None:
    assert "maria1@example.com" in _reply(runtime.converse(modelId=model_id, messages=_user(transcript(1))))


def test_the_tuned_model_answers_with_its_nearest_training_example(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, completed_model: dict[str, Any]
) -> None:
    deployment = _deploy(bedrock, completed_model["outputModelArn"])
    assert wait_for_deployment(bedrock, deployment)["status"] == "Active"
    for index in range(len(TOPICS)):
        unseen = transcript(index).replace("Maria Gonzalez", "Ana Lopez")  # a near-duplicate, not the same chat
        text = _reply(runtime.converse(modelId=deployment, system=[{"text": SYSTEM}], messages=_user(unseen)))
        assert text == summary(index)
        assert "example.com" not in text
    examples = emulator.training_examples(deployment)
    assert [e.assistant for e in examples] == [summary(i) for i in range(len(TOPICS))]
    assert emulator.training_examples(completed_model["jobArn"]) == examples
    assert emulator.training_examples(completed_model["outputModelArn"]) == examples


def test_converse_on_a_deployment_that_is_not_active(
    bedrock: Any, runtime: Any, emulator: BedrockEmulator, completed_model: dict[str, Any]
) -> None:
    creating = _deploy(bedrock, completed_model["outputModelArn"], name="slow")
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=creating, messages=_user("hello"))
    error = raised.value.response["Error"]
    assert (error["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationException", 400)
    assert "is not active (status: Creating)" in error["Message"]

    failed = emulator.fail_deployment(creating, "Insufficient capacity.")
    assert failed["status"] == "Failed"
    shown = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=creating)
    assert (shown["status"], shown["failureMessage"]) == ("Failed", "Insufficient capacity.")
    with pytest.raises(runtime.exceptions.ValidationException, match=r"status: Failed"):
        runtime.converse(modelId=creating, messages=_user("hello"))

    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=creating)
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.converse(modelId=creating, messages=_user("hello"))


def test_converse_refuses_a_custom_model_arn_and_unknown_models(runtime: Any, completed_model: dict[str, Any]) -> None:
    # The model's ConversationalModelId pattern has no room for a Nova custom model ARN (it has ":0:128k").
    with pytest.raises(runtime.exceptions.ValidationException, match="at 'modelId' failed to satisfy constraint"):
        runtime.converse(modelId=completed_model["outputModelArn"], messages=_user("hello"))
    pattern_shaped = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1/abcdefghijkl"
    with pytest.raises(runtime.exceptions.ValidationException, match="needs a custom model deployment"):
        runtime.converse(modelId=pattern_shaped, messages=_user("hello"))
    for model_id in ("amazon.nova-micro-v1:0:128k", "anthropic.claude-3-haiku-20240307-v1:0"):
        with pytest.raises(runtime.exceptions.ValidationException, match=r"The provided model identifier is invalid\."):
            runtime.converse(modelId=model_id, messages=_user("hello"))


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([], "must start with a user message"),
        ([{"role": "assistant", "content": [{"text": "hi"}]}], "must start with a user message"),
        (_user("a") + _user("b"), "must alternate between user and assistant roles"),
    ],
)
def test_converse_checks_the_conversation(runtime: Any, messages: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(runtime.exceptions.ValidationException, match=words):
        runtime.converse(modelId="amazon.nova-micro-v1:0", messages=messages)


def test_converse_checks_members_against_the_model(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException, match=r"at 'inferenceConfig\.temperature'"):
        runtime.converse(modelId="amazon.nova-micro-v1:0", messages=_user("hi"), inferenceConfig={"temperature": 2.0})


def test_max_tokens_and_stop_sequences_cut_the_answer(runtime: Any) -> None:
    cut = runtime.converse(
        modelId="amazon.nova-micro-v1:0", messages=_user(transcript(2)), inferenceConfig={"maxTokens": 3}
    )
    assert _reply(cut) == "Summary: Maria"
    assert (cut["stopReason"], cut["usage"]["outputTokens"]) == ("max_tokens", 3)
    stopped = runtime.converse(
        modelId="amazon.nova-micro-v1:0",
        messages=_user(transcript(2)),
        inferenceConfig={"stopSequences": [" contacted"]},
    )
    assert (_reply(stopped), stopped["stopReason"]) == ("Summary: Maria Gonzalez2", "stop_sequence")


def test_a_multi_turn_conversation_answers_the_last_user_message(runtime: Any) -> None:
    messages = [*_user("first question"), {"role": "assistant", "content": [{"text": "an answer"}]}]
    messages += _user(transcript(4))
    assert "maria4@example.com" in _reply(runtime.converse(modelId="amazon.nova-micro-v1:0", messages=messages))
