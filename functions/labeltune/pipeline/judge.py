"""Asking the LLM judge: one summary at a time (inside the evaluation's fan-out), and over the human-labelled
set once per run, to measure how far its verdicts can be trusted.

Written against the ChatModel port only. A TransientError (rate limit, 5xx, timeout) passes through, so
the step that called is retried with backoff; any other failure of the call, and any answer that is not a
verdict, costs that one example (a verdict with an `error`), never the run. Nothing here logs text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel, ConfigDict

from labeltune.domain.judge import Agreement, JudgeVerdict, agreement, check_human_labels, judge_prompt, parse_verdict
from labeltune.errors import TransientError
from labeltune.ports import ChatModel

DEFAULT_CONCURRENCY = 8


class HumanLabelledExample(BaseModel):
    """One line of the human-labelled set (examples/judge_human_labels.jsonl)."""

    model_config = ConfigDict(frozen=True)
    id: str
    chat: str
    summary: str
    human: dict[str, bool]


def judge_summary(chat: ChatModel, model: str, chat_text: str, summary: str) -> JudgeVerdict:
    """The judge's verdict on `summary` of `chat_text` (the human reference is not an input, by design)."""
    prompt = judge_prompt(chat_text, summary)
    try:
        answer = chat.complete(model, prompt.system, prompt.user)
    except TransientError:
        raise  # the caller's step is retried with backoff
    except Exception as error:  # a refusal or a bad request: this example has no verdict, the rest go on
        return JudgeVerdict.failed(f"call failed: {type(error).__name__}")
    return parse_verdict(answer)


def read_human_set(lines: Iterable[str]) -> list[HumanLabelledExample]:
    """The human-labelled set's JSONL lines, checked: ValueError names the line and what is wrong (not its text)."""
    examples: list[HumanLabelledExample] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"human-labelled set, line {number}"
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{where}: not JSON") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: not a JSON object")
        fields = {name: record.get(name) for name in ("id", "chat", "summary")}
        missing = [name for name, value in fields.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            raise ValueError(f"{where}: {', '.join(missing)} must be non-empty text")
        if record["id"] in seen:
            raise ValueError(f"{where}: the id {record['id']!r} is used twice")
        seen.add(record["id"])
        human = check_human_labels(record.get("human"), f"{where}, human")
        examples.append(
            HumanLabelledExample(id=record["id"], chat=record["chat"], summary=record["summary"], human=human)
        )
    if not examples:
        raise ValueError("the human-labelled set has no examples")
    return examples


def measure_agreement(
    chat: ChatModel, model: str, human_set_lines: Iterable[str], concurrency: int = DEFAULT_CONCURRENCY
) -> Agreement:
    """Run the judge over the human-labelled set and compare its verdicts with the humans'.

    Once per run (a few dozen calls, `concurrency` at a time), before its verdicts may gate anything:
    `JudgeConfig.findings(agreement)` says whether they may."""
    examples = read_human_set(human_set_lines)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        verdicts = list(pool.map(lambda example: judge_summary(chat, model, example.chat, example.summary), examples))
    return agreement(verdicts, [example.human for example in examples])
