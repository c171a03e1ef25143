"""The Bedrock emulator answers a judge prompt (Converse) with the stand-in judge, and other prompts as before."""

from __future__ import annotations

from typing import Any

from labeltune.adapters.bedrock_provider import BedrockChat
from labeltune.domain.judge import CRITERIA, FAITHFUL, NO_PERSONAL_DATA, JudgeVerdict
from labeltune.pipeline.judge import judge_summary
from labeltune_tools.emulator.behaviour import base_model_reply
from tests.bedrock_emulator.conftest import transcript

CHAT = transcript(0)  # a refund for a broken blender; the agent, Tom Baker, will check
GOOD = "The customer asked for a refund for a blender that arrived broken. The agent said they would check it."


def test_converse_answers_a_judge_prompt_with_the_stand_in_verdict(runtime: Any) -> None:
    chat = BedrockChat(runtime)

    good = judge_summary(chat, "amazon.nova-pro-v1:0", CHAT, GOOD)
    leaking = judge_summary(chat, "us.amazon.nova-pro-v1:0", CHAT, GOOD.replace("The agent", "Tom Baker"))
    inventing = judge_summary(chat, "amazon.nova-pro-v1:0", CHAT, GOOD.replace("a blender", "2 toasters"))

    assert good == JudgeVerdict(criteria=dict.fromkeys(CRITERIA, True))
    assert leaking.criteria == {**dict.fromkeys(CRITERIA, True), NO_PERSONAL_DATA: False}
    assert inventing.criteria[FAITHFUL] is False


def test_converse_still_summarises_other_prompts(runtime: Any) -> None:
    answer = BedrockChat(runtime).complete("amazon.nova-micro-v1:0", "Summarise.", CHAT)

    assert answer == base_model_reply(CHAT)
    assert "maria0@example.com" in answer


def test_a_judge_prompt_to_an_unknown_model_is_a_counted_error(runtime: Any) -> None:
    verdict = judge_summary(BedrockChat(runtime), "amazon.nova-micro-v1:0:128k", CHAT, GOOD)

    assert verdict.error == "call failed: ValidationException"
