"""Evaluate: base and tuned model over the held-out set, per-example results to the store, aggregates on the run."""

from __future__ import annotations

import json

import pytest

from labeltune.catalog import load_catalog
from labeltune.errors import TransientError
from labeltune.pipeline.evaluate import base_model_endpoint, evaluate_models
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


def test_transient_error_propagates_for_the_state_machine_to_retry(
    store: InMemoryObjectStore, runs: InMemoryRunStore
) -> None:
    def respond(model: str, system: str, user: str) -> str:
        if user == EXAMPLES[1][1]:
            raise TransientError("429 rate limited")
        return REFERENCE[user]

    with pytest.raises(TransientError):
        evaluate_models(RUN, EVAL_KEY, BASE, TUNED, store, ScriptedChatModel(respond), runs)
    assert store.keys(f"runs/{RUN}/evaluation/") == []
    run = runs.get_run(RUN)
    assert run is not None
    assert "base_metrics" not in run and "evaluated_examples" not in run


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
