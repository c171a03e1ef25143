"""The evaluation's states, by the event's action: PlanEvaluation (`plan`: the held-out set into chunks), each
item of the EvaluateChunks Map (`chunk`: both models on one chunk), AggregateEvaluation (`aggregate`)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.errors import ConfigurationError
from labeltune.handlers.events import (
    AggregateEvaluationEvent,
    EvaluateChunkEvent,
    EvaluateEvent,
    PlanEvaluationEvent,
)
from labeltune.handlers.observability import lambda_entry, logger, metrics
from labeltune.pipeline.evaluate import (
    aggregate_evaluation,
    base_model_endpoint,
    evaluate_chunk,
    judge_agreement,
    plan_evaluation,
)
from labeltune.wiring import services


@lambda_entry
@event_parser(model=EvaluateEvent)
def handler(event: PlanEvaluationEvent | EvaluateChunkEvent | AggregateEvaluationEvent, context: Any) -> dict:
    svc = services()
    if isinstance(event, PlanEvaluationEvent):
        if not event.job.fine_tuned_model:
            raise ConfigurationError(f"job {event.job.job_id} succeeded without a fine-tuned model id")
        config = event.config
        plan = plan_evaluation(
            event.run_id,
            event.dataset.eval_key,
            svc.store,
            svc.runs,
            svc.settings.bucket_name,
            config.evaluation_concurrency,
        )
        plan.base_model = base_model_endpoint(config.provider, config.base_model, svc.catalog_file)
        plan.tuned_model = event.endpoint.model_id if event.endpoint else event.job.fine_tuned_model
        if config.judge.enabled:
            plan.judge_model = config.judge.model_for(config.provider)
            judge_agreement(event.run_id, config.judge, plan.judge_model, svc.chat(config.provider), svc.runs)
        logger.info("evaluation planned", extra={"run_id": event.run_id, "chunks": plan.chunks})
        return plan.model_dump(mode="json")
    if isinstance(event, EvaluateChunkEvent):
        chat = svc.chat(event.provider)
        done = evaluate_chunk(
            event.run_id,
            event.chunk,
            event.base_model,
            event.tuned_model,
            svc.store,
            chat,
            judge_model=event.judge_model,
        )
        logger.info("evaluation chunk", extra={"run_id": event.run_id, "chunk": event.chunk.index, **done})
        return done
    summary = aggregate_evaluation(
        event.run_id,
        event.manifest_key,
        event.base_model,
        event.tuned_model,
        svc.store,
        svc.runs,
        event.config.evaluation,
        event.config.judge if event.config.judge.enabled else None,
    )
    metrics.add_metric(name="TunedLeakRate", unit=MetricUnit.Percent, value=summary.tuned.leak_rate * 100)
    metrics.add_metric(name="TunedRougeL", unit=MetricUnit.Count, value=summary.tuned.rouge_l)
    metrics.add_metric(name="BaseRougeL", unit=MetricUnit.Count, value=summary.base.rouge_l)
    # What tuning bought on the held-out set, and whether the project's promotion gate let the model through.
    metrics.add_metric(name="RougeLGain", unit=MetricUnit.Count, value=summary.tuned.rouge_l - summary.base.rouge_l)
    if summary.gate is not None:
        metrics.add_metric(name="GatePassed", unit=MetricUnit.Count, value=1 if summary.gate.passed else 0)
    return summary.model_dump(mode="json")
