"""Evaluate: every held-out example through the base and the fine-tuned model, scored against the human
response (ROUGE-L) and for PII leaks. Per-example outputs go to the object store (they can contain the
base model's leaks, so never to logs or the run record); the aggregates go on the run record.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from labeltune.catalog import ModelCatalog
from labeltune.domain.metrics import ExampleScore, aggregate, score_example
from labeltune.domain.models import ModelMetrics, RunStatus
from labeltune.domain.pii import extract_pii
from labeltune.domain.project_config import EvaluationThresholds
from labeltune.errors import TransientError
from labeltune.ports import ChatModel, ObjectStore, RunStore

BATCH_EXAMPLES = 32  # examples in flight at once (each asked of both models)


class EvaluationSummary(BaseModel):
    run_id: str
    base: ModelMetrics
    tuned: ModelMetrics
    results_key: str
    summary_key: str
    passed: bool = True
    findings: list[str] = []


def base_model_endpoint(provider: str, base_model: str, catalog: ModelCatalog) -> str:
    """The id the base model answers to: Bedrock trains `amazon.nova-micro-v1:0:128k` and serves the same model
    as `amazon.nova-micro-v1:0` (the catalog's `inference_model`); OpenAI uses one name for both."""
    entry = catalog.entry(provider, base_model)
    return entry.inference_model if entry is not None and entry.inference_model else base_model


def _example(line: str) -> tuple[str, str, str, str]:
    record = json.loads(line)
    by_role = {message["role"]: message["content"] for message in record["messages"]}
    return record["data_row_id"], by_role.get("system", ""), by_role["user"], by_role["assistant"]


def evaluate_models(
    run_id: str,
    eval_key: str,
    base_model: str,
    tuned_model: str,
    store: ObjectStore,
    chat: ChatModel,
    runs: RunStore,
    thresholds: EvaluationThresholds | None = None,
    concurrency: int = 8,
) -> EvaluationSummary:
    runs.update_run(run_id, status=RunStatus.EVALUATING.value)
    models = {"base": base_model, "tuned": tuned_model}
    scores: dict[str, list[ExampleScore]] = {role: [] for role in models}
    results_key = f"runs/{run_id}/evaluation/examples.jsonl"

    def answer(task: tuple[str, str, str, str, str, str]) -> tuple[str, str | None, ExampleScore]:
        role, model, data_row_id, system, prompt, reference = task
        try:
            output = chat.complete(model, system, prompt)
            return role, output, score_example(data_row_id, model, output, reference, extract_pii(prompt))
        except TransientError:
            raise  # let the state machine retry the step with backoff
        except Exception as error:  # a refusal or a bad request costs one example, not the run
            failed = ExampleScore(
                data_row_id=data_row_id, model=model, rouge_l=0.0, leaks={}, error=type(error).__name__
            )
            return role, None, failed

    with (
        tempfile.TemporaryDirectory(prefix="labeltune-eval-") as tmp,
        ThreadPoolExecutor(max_workers=concurrency) as pool,
    ):
        results_path = Path(tmp) / "examples.jsonl"
        with results_path.open("w", encoding="utf-8") as results:
            examples = (_example(line) for line in store.read_lines(eval_key) if line.strip())
            # Bounded batches keep memory flat and the results in file order; calls within a batch overlap.
            while batch := list(itertools.islice(examples, BATCH_EXAMPLES)):
                tasks = [(role, model, *example) for example in batch for role, model in models.items()]
                for role, output, score in pool.map(answer, tasks):
                    scores[role].append(score)
                    record = {"role": role, "output": output, **score.model_dump()}
                    results.write(json.dumps(record, ensure_ascii=False) + "\n")
        store.upload_file(results_key, results_path)
    tuned = aggregate(tuned_model, scores["tuned"])
    findings = (thresholds or EvaluationThresholds()).findings(tuned.leak_rate, tuned.rouge_l, tuned.error_rate)
    summary = EvaluationSummary(
        run_id=run_id,
        base=aggregate(base_model, scores["base"]),
        tuned=tuned,
        results_key=results_key,
        summary_key=f"runs/{run_id}/evaluation/summary.json",
        passed=not findings,
        findings=findings,
    )
    store.put_json(summary.summary_key, summary.model_dump(mode="json"))
    runs.update_run(
        run_id,
        evaluated_examples=summary.base.examples,
        base_rouge_l=summary.base.rouge_l,
        tuned_rouge_l=summary.tuned.rouge_l,
        base_leak_rate=summary.base.leak_rate,
        tuned_leak_rate=summary.tuned.leak_rate,
        base_metrics=summary.base.model_dump(mode="json"),
        tuned_metrics=summary.tuned.model_dump(mode="json"),
        evaluation_uri=store.uri(results_key),
        evaluation_passed=summary.passed,
        evaluation_findings=summary.findings,
    )
    return summary
