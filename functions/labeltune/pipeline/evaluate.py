"""Evaluate: every held-out example through the base and the fine-tuned model, scored against the human
response (ROUGE-L) and for PII leaks. Per-example outputs go to the object store (they can contain the
base model's leaks, so never to logs or the run record); the aggregates go on the run record.

The state machine fans the work out (a Distributed Map over chunks), so a large held-out set is not bound by
one Lambda's 15 minutes, and a retry does not start again from the first example:
- `plan_evaluation` splits the eval set into chunk files and writes the JSON manifest the Map reads, sized so
  the chunks run in whole waves of the project's concurrency and each fits well inside one invocation;
- `evaluate_chunk` asks both models about each example of one chunk and writes the chunk's results; a chunk
  whose results exist already is not asked again (a retried Map, a re-run of the step);
- `aggregate_evaluation` streams the chunks' results in order into `examples.jsonl`, computes the aggregates
  and records them on the run.
`evaluate_models` runs the three in one process (tests, tools).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from labeltune.catalog import ModelCatalog
from labeltune.domain.gate import GateVerdict, JudgeResult, decide
from labeltune.domain.judge import Agreement, JudgeConfig, JudgeSummary, JudgeVerdict, summarise_verdicts
from labeltune.domain.metrics import ExampleScore, aggregate, score_example
from labeltune.domain.models import ChunkRef, ModelMetrics, RunStatus
from labeltune.domain.pii import extract_pii
from labeltune.domain.project_config import EvaluationThresholds
from labeltune.errors import EvaluationIncomplete, TransientError
from labeltune.ports import ChatModel, ObjectStore, RunStore

HUMAN_LABELLED_SET = Path(__file__).resolve().parents[1] / "evaluation_data" / "judge_human_labels.jsonl"
MAX_CHUNK_EXAMPLES = 100  # at 2 s a call (base and tuned together) a chunk takes about 200 s of its 900
CALLS_PER_EXAMPLE = 2  # base and tuned, asked together


class EvaluationSummary(BaseModel):
    run_id: str
    base: ModelMetrics
    tuned: ModelMetrics
    results_key: str
    summary_key: str
    passed: bool = True
    findings: list[str] = []
    judge: JudgeSummary | None = None  # the judge's verdicts on the tuned model's summaries
    gate: GateVerdict | None = None  # whether the tuned model is promoted, and why not


class EvaluationPlan(BaseModel):
    manifest_key: str
    bucket: str
    chunks: int
    examples: int
    max_concurrency: int  # chunks in flight at once: the project's concurrency over the calls each chunk makes
    base_model: str = ""  # the ids the chunks ask (filled in by the handler)
    tuned_model: str = ""
    judge_model: str | None = None  # asked about every tuned summary, when the project enables the judge


def evaluation_prefix(run_id: str) -> str:
    return f"runs/{run_id}/evaluation"


def chunk_results_key(run_id: str, index: int) -> str:
    return f"{evaluation_prefix(run_id)}/chunks/{index:05d}.results.jsonl"


def chunk_done_key(run_id: str, index: int) -> str:
    return f"{evaluation_prefix(run_id)}/chunks/{index:05d}.done.json"


def base_model_endpoint(provider: str, base_model: str, catalog: ModelCatalog) -> str:
    """The id the base model answers to: Bedrock trains `amazon.nova-micro-v1:0:128k` and serves the same model
    as `amazon.nova-micro-v1:0` (the catalog's `inference_model`); OpenAI uses one name for both."""
    entry = catalog.entry(provider, base_model)
    return entry.inference_model if entry is not None and entry.inference_model else base_model


def chunk_size(examples: int, max_concurrency: int, max_chunk: int = MAX_CHUNK_EXAMPLES) -> int:
    """Examples per chunk: as few waves of `max_concurrency` chunks as the chunk limit allows, the examples
    spread evenly over them, so the last wave is not a straggler."""
    if examples <= 0:
        return 1
    waves = math.ceil(examples / (max_concurrency * max_chunk))
    return max(1, math.ceil(examples / (max_concurrency * waves)))


def plan_evaluation(
    run_id: str, eval_key: str, store: ObjectStore, runs: RunStore, bucket: str, concurrency: int
) -> EvaluationPlan:
    """Split the eval set into chunk files (streamed: one chunk on disk at a time) and write the manifest."""
    runs.update_run(run_id, status=RunStatus.EVALUATING.value)
    max_concurrency = max(1, concurrency // CALLS_PER_EXAMPLE)
    total = sum(1 for line in store.read_lines(eval_key) if line.strip())
    size = chunk_size(total, max_concurrency)
    manifest: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="labeltune-plan-") as tmp:
        lines = (line for line in store.read_lines(eval_key) if line.strip())
        while True:
            path = Path(tmp) / f"{len(manifest):05d}.jsonl"
            count = 0
            with path.open("w", encoding="utf-8") as chunk:
                for line in lines:
                    chunk.write(line.rstrip("\n") + "\n")
                    count += 1
                    if count == size:
                        break
            if count == 0:
                break
            key = f"{evaluation_prefix(run_id)}/chunks/{len(manifest):05d}.input.jsonl"
            store.upload_file(key, path)
            manifest.append(ChunkRef(index=len(manifest), key=key, examples=count).model_dump())
            path.unlink()
    manifest_key = f"{evaluation_prefix(run_id)}/manifest.json"
    store.put_json(manifest_key, manifest)
    runs.update_run(run_id, evaluation_chunks=len(manifest))
    return EvaluationPlan(
        manifest_key=manifest_key,
        bucket=bucket,
        chunks=len(manifest),
        examples=total,
        max_concurrency=max_concurrency,
    )


def _example(line: str) -> tuple[str, str, str, str]:
    record = json.loads(line)
    by_role = {message["role"]: message["content"] for message in record["messages"]}
    return record["data_row_id"], by_role.get("system", ""), by_role["user"], by_role["assistant"]


def judge_agreement(
    run_id: str, judge: JudgeConfig, model: str, chat: ChatModel, runs: RunStore, human_set: Path = HUMAN_LABELLED_SET
) -> Agreement:
    """The judge against the human-labelled set, once per run: its verdicts gate the run only when they agree
    with the humans well enough (recorded on the run with the reasons when they do not)."""
    from labeltune.pipeline.judge import measure_agreement

    with human_set.open(encoding="utf-8") as lines:
        measured = measure_agreement(chat, model, lines)
    findings = judge.findings(measured)
    runs.update_run(
        run_id,
        judge_model=model,
        judge_agreement=measured.model_dump(mode="json"),
        judge_trusted=not findings,
        judge_findings=findings,
    )
    return measured


def _answer(chat: ChatModel, task: tuple[str, str, str, str, str, str]) -> tuple[str, str | None, ExampleScore]:
    role, model, data_row_id, system, prompt, reference = task
    try:
        output = chat.complete(model, system, prompt)
        return role, output, score_example(data_row_id, model, output, reference, extract_pii(prompt))
    except TransientError:
        raise  # the chunk fails and the state machine retries it with backoff; other chunks are kept
    except Exception as error:  # a refusal or a bad request costs one example, not the run
        failed = ExampleScore(data_row_id=data_row_id, model=model, rouge_l=0.0, leaks={}, error=type(error).__name__)
        return role, None, failed


def _judged(
    chat: ChatModel, judge_model: str | None, prompt: str, role: str, output: str | None
) -> JudgeVerdict | None:
    """The judge's verdict on a tuned summary (the judge reads the chat, never the human reference)."""
    if judge_model is None or role != "tuned" or output is None:
        return None
    from labeltune.pipeline.judge import judge_summary

    return judge_summary(chat, judge_model, prompt, output)


def evaluate_chunk(
    run_id: str,
    chunk: ChunkRef,
    base_model: str,
    tuned_model: str,
    store: ObjectStore,
    chat: ChatModel,
    concurrency: int = CALLS_PER_EXAMPLE,
    judge_model: str | None = None,
) -> dict[str, Any]:
    """Ask both models about each example of one chunk, in file order, and the judge (when set) about each
    tuned summary; done once per chunk."""
    done_key = chunk_done_key(run_id, chunk.index)
    done = store.find_json(done_key)
    if done is not None:
        return {**done, "skipped": True}
    models = {"base": base_model, "tuned": tuned_model}
    results_key = chunk_results_key(run_id, chunk.index)

    def work(task: tuple[str, str, str, str, str, str]) -> dict[str, Any]:
        role, output, score = _answer(chat, task)
        record: dict[str, Any] = {"role": role, "output": output, **score.model_dump()}
        verdict = _judged(chat, judge_model, task[4], role, output)
        if verdict is not None:
            record["judge"] = verdict.model_dump(mode="json")
        return record

    with (
        tempfile.TemporaryDirectory(prefix="labeltune-eval-") as tmp,
        ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
    ):
        path = Path(tmp) / "results.jsonl"
        answered = 0
        with path.open("w", encoding="utf-8") as results:
            examples = (_example(line) for line in store.read_lines(chunk.key) if line.strip())
            tasks = ((role, model, *example) for example in examples for role, model in models.items())
            for record in pool.map(work, tasks):
                results.write(json.dumps(record, ensure_ascii=False) + "\n")
                answered += 1
        store.upload_file(results_key, path)
    record = {"index": chunk.index, "results_key": results_key, "answers": answered}
    store.put_json(done_key, record)  # last: a chunk is done only once its results are stored
    return {**record, "skipped": False}


def _chunk_results(run_id: str, manifest: list[dict[str, Any]], store: ObjectStore) -> Iterator[dict[str, Any]]:
    for item in manifest:
        chunk = ChunkRef.model_validate(item)
        if store.find_json(chunk_done_key(run_id, chunk.index)) is None:
            raise EvaluationIncomplete(f"evaluation chunk {chunk.index} of run {run_id} has no results")
        for line in store.read_lines(chunk_results_key(run_id, chunk.index)):
            if line.strip():
                yield json.loads(line)


def aggregate_evaluation(
    run_id: str,
    manifest_key: str,
    base_model: str,
    tuned_model: str,
    store: ObjectStore,
    runs: RunStore,
    thresholds: EvaluationThresholds | None = None,
    judge_config: JudgeConfig | None = None,
) -> EvaluationSummary:
    """The chunks' results, in order, into one file; the aggregates onto the run; the promotion gate decided."""
    manifest = store.get_json(manifest_key)
    scores: dict[str, list[ExampleScore]] = {"base": [], "tuned": []}
    verdicts: list[JudgeVerdict] = []
    results_key = f"{evaluation_prefix(run_id)}/examples.jsonl"
    with tempfile.TemporaryDirectory(prefix="labeltune-aggregate-") as tmp:
        path = Path(tmp) / "examples.jsonl"
        with path.open("w", encoding="utf-8") as merged:
            for record in _chunk_results(run_id, manifest, store):
                scores[record["role"]].append(ExampleScore.model_validate(record))
                if "judge" in record:
                    verdicts.append(JudgeVerdict.model_validate(record["judge"]))
                merged.write(json.dumps(record, ensure_ascii=False) + "\n")
        store.upload_file(results_key, path)
    thresholds = thresholds or EvaluationThresholds()
    base, tuned = aggregate(base_model, scores["base"]), aggregate(tuned_model, scores["tuned"])
    findings = thresholds.findings(tuned.leak_rate, tuned.rouge_l, tuned.error_rate)
    judged = summarise_verdicts(verdicts) if verdicts else None
    summary = EvaluationSummary(
        run_id=run_id,
        base=base,
        tuned=tuned,
        results_key=results_key,
        summary_key=f"{evaluation_prefix(run_id)}/summary.json",
        passed=not findings,
        findings=findings,
        judge=judged,
        gate=decide(thresholds, base, tuned, _judge_result(run_id, judged, judge_config, runs)),
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
        judge_summary=summary.judge.model_dump(mode="json") if summary.judge else None,
        gate_passed=summary.gate.passed if summary.gate else None,
        gate=summary.gate.model_dump(mode="json") if summary.gate else None,
    )
    return summary


def _judge_result(
    run_id: str, judged: JudgeSummary | None, config: JudgeConfig | None, runs: RunStore
) -> JudgeResult | None:
    """The judge's pass rate with what the run measured of its agreement (PlanEvaluation's judge_agreement)."""
    if judged is None or config is None:
        return None
    measured = (runs.get_run(run_id) or {}).get("judge_agreement")
    agreement = Agreement.model_validate(measured) if measured else None
    return JudgeResult(
        pass_rate=judged.pass_rate,
        agreement=agreement.overall.raw if agreement else None,
        min_agreement=config.min_agreement,
        distrust=config.findings(agreement) if agreement else ["the judge's agreement was not measured"],
    )


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
    judge_model: str | None = None,
    judge: JudgeConfig | None = None,
) -> EvaluationSummary:
    """Plan, every chunk, and the aggregate in this process (the state machine runs the chunks in parallel)."""
    plan = plan_evaluation(run_id, eval_key, store, runs, bucket="", concurrency=concurrency)
    for item in store.get_json(plan.manifest_key):
        chunk = ChunkRef.model_validate(item)
        evaluate_chunk(run_id, chunk, base_model, tuned_model, store, chat, concurrency, judge_model)
    return aggregate_evaluation(run_id, plan.manifest_key, base_model, tuned_model, store, runs, thresholds, judge)
