"""Evaluate: base and tuned model over the held-out set, per-example results to the store, aggregates on the run."""

from __future__ import annotations

import json
import math

import pytest

from labeltune.catalog import load_catalog
from labeltune.domain.models import ChunkRef
from labeltune.errors import EvaluationIncomplete, TransientError
from labeltune.pipeline.evaluate import (
    MAX_CHUNK_EXAMPLES,
    aggregate_evaluation,
    base_model_endpoint,
    chunk_size,
    evaluate_chunk,
    evaluate_models,
    plan_evaluation,
)
from tests.fakes import InMemoryObjectStore, InMemoryRunStore, ScriptedChatModel

RUN = "run-eval-test"
EVAL_KEY = f"runs/{RUN}/dataset/eval.jsonl"
BASE = "gpt-4.1-mini-2025-04-14"
TUNED = "ft:gpt-4.1-mini-2025-04-14:labeltune:run-eval-test:abc123"
SYSTEM = "Summarise the chat without personal data."

EXAMPLES = [
    (
        "dr-1",
        "Ann Leeson: My order ORD-123456 never arrived. Email ann.leeson@example.com\nBob Stoneham: Resending it.",
        "Order did not arrive; the agent resent it.",
    ),
    (
        "dr-2",
        "Cara Whitfield: I was charged twice for ORD-654321.\nDev Okafor: Refunded the duplicate charge.",
        "Duplicate charge refunded.",
    ),
    (
        "dr-3",
        "Eli Marchetti: Please reset my password, account ACC-55501.\nFay Lindqvist: Reset link sent.",
        "Password reset link sent.",
    ),
]
REFERENCE = {prompt: reference for _, prompt, reference in EXAMPLES}


def eval_line(data_row_id: str, prompt: str, reference: str) -> str:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": reference},
    ]
    return json.dumps({"data_row_id": data_row_id, "messages": messages})


@pytest.fixture
def store() -> InMemoryObjectStore:
    store = InMemoryObjectStore()
    store.put_lines(EVAL_KEY, [eval_line(*example) for example in EXAMPLES])
    return store


@pytest.fixture
def runs() -> InMemoryRunStore:
    runs = InMemoryRunStore()
    runs.create_run(RUN, "proj-1", status="TRAINING")
    return runs


def leaky_base_perfect_tuned(model: str, system: str, user: str) -> str:
    """The base model repeats the chat (every PII value leaks); the tuned one writes the human summary."""
    return user if model == BASE else REFERENCE[user]


def test_scores_base_and_tuned_over_every_eval_line(store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    chat = ScriptedChatModel(leaky_base_perfect_tuned)
    summary = evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, chat, runs)

    assert sorted(chat.calls) == sorted((model, SYSTEM, prompt) for _, prompt, _ in EXAMPLES for model in (BASE, TUNED))
    assert (summary.base.model, summary.tuned.model) == (BASE, TUNED)
    assert summary.base.examples == summary.tuned.examples == 3
    assert summary.base.leak_rate == 1.0
    assert summary.tuned.leak_rate == 0.0
    assert summary.tuned.rouge_l == 1.0
    assert summary.base.rouge_l < 0.5
    assert summary.base.leaks_by_type["name"] > 0 and summary.base.leaks_by_type["order_id"] == 2
    assert summary.tuned.leaks_by_type.get("name", 0) == 0
    assert summary.base.errors == summary.tuned.errors == 0


def test_per_example_results_go_to_the_store(store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    summary = evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(leaky_base_perfect_tuned), runs)

    results = store.read_jsonl(summary.results_key)
    assert summary.results_key == f"runs/{RUN}/evaluation/examples.jsonl"
    assert len(results) == 6
    by_key = {(r["data_row_id"], r["role"]): r for r in results}
    assert set(by_key) == {(dr, role) for dr, _, _ in EXAMPLES for role in ("base", "tuned")}
    for data_row_id, prompt, reference in EXAMPLES:
        base, tuned = by_key[(data_row_id, "base")], by_key[(data_row_id, "tuned")]
        assert (base["model"], base["output"]) == (BASE, prompt)
        assert (tuned["model"], tuned["output"], tuned["rouge_l"]) == (TUNED, reference, 1.0)
        assert sum(base["leaks"].values()) > 0
        assert sum(tuned["leaks"].values()) == 0
        assert base["error"] is None and tuned["error"] is None

    stored = store.get_json(summary.summary_key)
    assert stored == summary.model_dump(mode="json")


def test_aggregates_are_recorded_on_the_run(store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    summary = evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(leaky_base_perfect_tuned), runs)
    run = runs.get_run(RUN)
    assert run is not None
    assert run["status"] == "EVALUATING"
    assert run["evaluated_examples"] == 3
    assert run["base_leak_rate"] == 1.0
    assert run["tuned_leak_rate"] == 0.0
    assert run["tuned_rouge_l"] == 1.0
    assert run["base_rouge_l"] == summary.base.rouge_l
    assert run["base_metrics"] == summary.base.model_dump(mode="json")
    assert run["tuned_metrics"] == summary.tuned.model_dump(mode="json")
    assert run["evaluation_uri"] == store.uri(summary.results_key)
    # outputs can hold the base model's leaks: they stay in the store, never on the run record
    assert EXAMPLES[0][1] not in json.dumps(run)


def test_a_model_error_costs_one_example_only(store: InMemoryObjectStore, runs: InMemoryRunStore) -> None:
    def respond(model: str, system: str, user: str) -> str:
        if model == TUNED and user == EXAMPLES[1][1]:
            raise ValueError("400: the request was refused")
        return REFERENCE[user]

    summary = evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(respond), runs)
    assert summary.tuned.examples == 3
    assert summary.tuned.errors == 1
    assert summary.tuned.rouge_l == pytest.approx(2 / 3, abs=1e-4)  # the failed example counts as 0
    assert summary.base.errors == 0 and summary.base.rouge_l == 1.0

    failed = [r for r in store.read_jsonl(summary.results_key) if r["error"] is not None]
    assert failed == [
        {
            "role": "tuned",
            "output": None,
            "data_row_id": "dr-2",
            "model": TUNED,
            "rouge_l": 0.0,
            "leaks": {},
            "error": "ValueError",
        }
    ]
    run = runs.get_run(RUN)
    assert run is not None and run["tuned_metrics"]["errors"] == 1


def test_a_transient_error_fails_its_chunk_and_a_retry_asks_only_what_is_not_done(
    store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    """A rate limit on one example fails that chunk (the state machine retries it with backoff); the chunks done
    before it keep their results and are not asked again, and no aggregate is recorded until every chunk is done."""
    asked: list[str] = []
    limited = {"on": True}

    def respond(model: str, system: str, user: str) -> str:
        asked.append(user)
        if user == EXAMPLES[1][1] and limited["on"]:
            raise TransientError("429 rate limited")
        return REFERENCE[user]

    plan = plan_evaluation(RUN, EVAL_KEY, store, runs, bucket="b", concurrency=6)  # 3 chunks of one example
    assert (plan.chunks, plan.examples, plan.max_concurrency) == (3, 3, 3)
    chunks = [ChunkRef.model_validate(item) for item in store.get_json(plan.manifest_key)]
    chat = ScriptedChatModel(respond)
    assert evaluate_chunk(RUN, chunks[0], BASE, TUNED, store, chat)["skipped"] is False
    with pytest.raises(TransientError):
        evaluate_chunk(RUN, chunks[1], BASE, TUNED, store, chat)
    with pytest.raises(EvaluationIncomplete, match="chunk 1"):
        aggregate_evaluation(RUN, plan.manifest_key, BASE, TUNED, store, runs)
    run = runs.get_run(RUN)
    assert run is not None and "base_metrics" not in run and "evaluated_examples" not in run

    limited["on"] = False
    asked.clear()
    for chunk in chunks:  # the Map run again: every item, as a redriven or re-run Map would
        evaluate_chunk(RUN, chunk, BASE, TUNED, store, chat)
    assert sorted(asked) == sorted([EXAMPLES[1][1], EXAMPLES[2][1]] * 2)  # chunk 0 not asked again
    summary = aggregate_evaluation(RUN, plan.manifest_key, BASE, TUNED, store, runs)
    assert summary.base.examples == summary.tuned.examples == 3
    written = [json.loads(line) for line in store.read_lines(summary.results_key)]
    assert [r["data_row_id"] for r in written] == ["dr-1", "dr-1", "dr-2", "dr-2", "dr-3", "dr-3"]


@pytest.mark.parametrize(
    ("examples", "max_concurrency", "size", "chunks"),
    [
        (3, 4, 1, 3),
        (10_000, 16, 90, 112),  # 7 waves of 16 chunks of at most 100: the last wave is as full as the first
        (1_600, 16, 100, 16),
        (1_601, 16, 51, 32),
        (0, 16, 1, 0),
    ],
)
def test_chunks_fill_whole_waves_of_the_concurrency(
    examples: int, max_concurrency: int, size: int, chunks: int
) -> None:
    assert chunk_size(examples, max_concurrency) == size
    assert math.ceil(examples / size) == chunks
    assert size <= MAX_CHUNK_EXAMPLES


def test_blank_lines_in_the_eval_file_are_skipped(runs: InMemoryRunStore) -> None:
    store = InMemoryObjectStore()
    store.put_lines(EVAL_KEY, ["", eval_line(*EXAMPLES[0]), "   ", eval_line(*EXAMPLES[2]), ""])
    summary = evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(leaky_base_perfect_tuned), runs)
    assert summary.base.examples == summary.tuned.examples == 2


def test_calls_overlap_but_results_keep_the_file_order() -> None:
    import threading
    import time

    from labeltune.pipeline.evaluate import evaluate_models
    from tests.fakes import InMemoryObjectStore, InMemoryRunStore, ScriptedChatModel

    in_flight, peak, lock = 0, 0, threading.Lock()

    def slow(model: str, system: str, user: str) -> str:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return f"summary of {user}"

    store, runs = InMemoryObjectStore(), InMemoryRunStore()
    runs.create_run("r", "p")
    lines = [
        json.dumps(
            {
                "data_row_id": f"dr-{i}",
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": f"chat {i}"},
                    {"role": "assistant", "content": f"summary of chat {i}"},
                ],
            }
        )
        for i in range(40)
    ]
    store.put_lines("eval.jsonl", lines)
    evaluate_models("r", "eval.jsonl", "base", "ft:base:x", store, ScriptedChatModel(slow), runs, concurrency=4)
    assert 1 < peak <= 4
    written = [json.loads(line) for line in store.read_lines("runs/r/evaluation/examples.jsonl")]
    assert [(r["data_row_id"], r["role"]) for r in written] == [
        (f"dr-{i}", role) for i in range(40) for role in ("base", "tuned")
    ]


def test_the_base_model_is_asked_by_the_id_it_is_served_under() -> None:
    catalog = load_catalog()
    assert base_model_endpoint("bedrock", "amazon.nova-micro-v1:0:128k", catalog) == "amazon.nova-micro-v1:0"
    assert base_model_endpoint("bedrock", "amazon.nova-2-lite-v1:0:256k", catalog) == "us.amazon.nova-2-lite-v1:0"
    assert base_model_endpoint("openai", "gpt-4.1-mini-2025-04-14", catalog) == "gpt-4.1-mini-2025-04-14"
    assert base_model_endpoint("bedrock", "not-in-the-catalog", catalog) == "not-in-the-catalog"


def test_the_judge_reads_each_tuned_summary_with_its_chat_never_the_reference(
    store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    from labeltune.domain.judge import CRITERIA

    judged: list[str] = []

    def respond(model: str, system: str, user: str) -> str:
        if model == "judge-model":
            judged.append(system + user)
            verdict = {criterion: True for criterion in CRITERIA}
            verdict["two_or_three_sentences"] = "Resending" not in user  # fails one of the three
            return json.dumps(verdict)
        return REFERENCE[user]

    summary = evaluate_models(
        RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(respond), runs, judge_model="judge-model"
    )
    assert len(judged) == 3  # the tuned summaries only
    assert summary.judge is not None and (summary.judge.judged, summary.judge.pass_rate) == (3, 0.6667)
    records = [json.loads(line) for line in store.read_lines(summary.results_key)]
    assert all(("judge" in r) == (r["role"] == "tuned") for r in records)
    run = runs.get_run(RUN)
    assert run is not None and run["judge_summary"]["pass_rate"] == 0.6667


def test_the_packaged_human_labelled_set_is_the_one_in_examples() -> None:
    """The functions read their own copy (examples/ is not deployed): the two must not drift apart."""
    from pathlib import Path

    from labeltune.pipeline.evaluate import HUMAN_LABELLED_SET

    examples = Path(__file__).resolve().parents[2] / "examples" / "judge_human_labels.jsonl"
    assert HUMAN_LABELLED_SET.read_bytes() == examples.read_bytes()


def test_the_judges_agreement_decides_whether_it_may_gate(runs: InMemoryRunStore) -> None:
    from labeltune.domain.judge import CRITERIA, JudgeConfig
    from labeltune.pipeline.evaluate import judge_agreement

    always_yes = ScriptedChatModel(lambda model, system, user: json.dumps(dict.fromkeys(CRITERIA, True)))
    measured = judge_agreement(RUN, JudgeConfig(enabled=True), "judge-model", always_yes, runs)
    run = runs.get_run(RUN)
    assert run is not None and run["judge_trusted"] is False  # a judge that always says yes agrees by chance
    assert run["judge_findings"] and measured.examples == run["judge_agreement"]["examples"] > 0


def test_the_gate_is_decided_with_the_aggregates_and_recorded_on_the_run(
    store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    from labeltune.domain.project_config import EvaluationThresholds

    demanding = EvaluationThresholds(min_rouge_l_gain=2.0 - 1.5, max_leak_rate=1.0)
    summary = evaluate_models(
        RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(leaky_base_perfect_tuned), runs, demanding
    )
    assert summary.gate is not None
    gain = summary.gate.check("rouge_l_gain")
    assert gain is not None and gain.passed == (summary.tuned.rouge_l - summary.base.rouge_l >= 0.5)
    run = runs.get_run(RUN)
    assert run is not None and run["gate_passed"] is summary.gate.passed and run["gate"]["checks"]
