"""Asking the judge through the ChatModel port: one summary, and the human-labelled set."""

from __future__ import annotations

import json

import pytest

from labeltune.domain.judge import CRITERIA, FAITHFUL, JUDGE_MARKER, JudgeVerdict
from labeltune.errors import TransientError
from labeltune.pipeline.judge import judge_summary, measure_agreement, read_human_set
from tests.fakes import ScriptedChatModel

ALL_TRUE = dict.fromkeys(CRITERIA, True)
CHAT = "Ann Lee: my kettle arrived broken.\nBob Stone: I've sent a replacement."
SUMMARY = "A kettle arrived broken. The agent sent a replacement."


def answering(text: str) -> ScriptedChatModel:
    return ScriptedChatModel(lambda model, system, user: text)


def human_line(index: int, summary: str, **labels: bool) -> str:
    return json.dumps({"id": f"ex-{index}", "chat": CHAT, "summary": summary, "human": {**ALL_TRUE, **labels}})


def test_the_judge_model_gets_the_rubric_prompt_and_its_verdict_is_parsed() -> None:
    chat = answering(json.dumps({**ALL_TRUE, FAITHFUL: False}))

    verdict = judge_summary(chat, "gpt-4.1-2025-04-14", CHAT, SUMMARY)

    assert verdict == JudgeVerdict(criteria={**ALL_TRUE, FAITHFUL: False})
    ((model, system, user),) = chat.calls
    assert model == "gpt-4.1-2025-04-14"
    assert "no_personal_data" in system
    assert user.startswith(JUDGE_MARKER) and CHAT in user and SUMMARY in user


def test_a_garbled_answer_is_a_counted_failure() -> None:
    verdict = judge_summary(answering("Sure! The summary looks great."), "m", CHAT, SUMMARY)

    assert verdict.error == "unparseable: no verdict object" and not verdict.passed


def test_a_transient_error_passes_through_for_the_fan_out_to_retry() -> None:
    def outage(model: str, system: str, user: str) -> str:
        raise TransientError("429")

    with pytest.raises(TransientError):
        judge_summary(ScriptedChatModel(outage), "m", CHAT, SUMMARY)


def test_another_error_costs_the_example_and_names_only_the_error_class() -> None:
    def refusal(model: str, system: str, user: str) -> str:
        raise PermissionError(f"refused: {user}")

    verdict = judge_summary(ScriptedChatModel(refusal), "m", CHAT, SUMMARY)

    assert verdict.error == "call failed: PermissionError"
    assert CHAT not in verdict.model_dump_json()


def test_measure_agreement_runs_the_judge_over_every_labelled_example() -> None:
    lines = [
        human_line(1, "Good summary. It is fine."),
        human_line(2, "Unfaithful summary. It invents things.", faithful=False),
        "",  # blank lines are skipped
        human_line(3, "Another good summary. Also fine."),
        human_line(4, "Unfaithful again. More inventions.", faithful=False),
    ]

    def judge(model: str, system: str, user: str) -> str:
        # A judge that sees through "Unfaithful summary" but is fooled by "Unfaithful again".
        return json.dumps({**ALL_TRUE, FAITHFUL: "Unfaithful summary" not in user})

    chat = ScriptedChatModel(judge)

    measured = measure_agreement(chat, "judge-model", lines, concurrency=2)

    assert len(chat.calls) == 4 and {call[0] for call in chat.calls} == {"judge-model"}
    assert (measured.examples, measured.errors) == (4, 0)
    assert measured.overall.raw == 0.75
    assert measured.criteria[FAITHFUL].raw == 0.75
    assert measured.criteria["no_personal_data"].raw == 1.0


def test_a_judge_that_cannot_answer_agrees_with_no_one() -> None:
    lines = [human_line(1, "A summary. Two sentences."), human_line(2, "Bad.", faithful=False)]

    measured = measure_agreement(answering("no idea"), "m", lines)

    assert (measured.errors, measured.overall.raw, measured.overall.kappa) == (2, 0.0, None)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["not json"], "line 1: not JSON"),
        (["[1, 2]"], "line 1: not a JSON object"),
        ([json.dumps({"id": "a", "chat": "c", "human": ALL_TRUE})], "line 1: summary must be non-empty text"),
        ([json.dumps({"id": "a", "chat": "c", "summary": "s"})], "line 1, human: must be an object"),
        ([human_line(1, "s"), human_line(1, "t")], "line 2: the id 'ex-1' is used twice"),
        (
            [json.dumps({"id": "a", "chat": "c", "summary": "s", "human": {**ALL_TRUE, FAITHFUL: "no"}})],
            "line 1, human: not true/false: faithful",
        ),
        ([" ", ""], "has no examples"),
    ],
)
def test_a_bad_human_labelled_set_is_refused_with_the_line_and_not_its_text(lines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        read_human_set(lines)
    assert "Ann Lee" not in str(refused.value)
