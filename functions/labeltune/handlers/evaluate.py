"""EvaluateModels state: base vs fine-tuned model on the held-out examples."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from labeltune.errors import ConfigurationError
from labeltune.handlers.events import EvaluateEvent
from labeltune.handlers.observability import lambda_entry, metrics
from labeltune.pipeline.evaluate import base_model_endpoint, evaluate_models
from labeltune.wiring import services


@lambda_entry
@event_parser(model=EvaluateEvent)
def handler(event: EvaluateEvent, context: Any) -> dict:
    if not event.job.fine_tuned_model:
        raise ConfigurationError(f"job {event.job.job_id} succeeded without a fine-tuned model id")
    svc = services()
    config = event.config
    summary = evaluate_models(
        event.run_id,
        event.dataset.eval_key,
        base_model_endpoint(config.provider, config.base_model, svc.catalog_file),
        event.endpoint.model_id if event.endpoint else event.job.fine_tuned_model,
        svc.store,
        svc.chat(config.provider),
        svc.runs,
        config.evaluation,
    )
    metrics.add_metric(name="TunedLeakRate", unit=MetricUnit.Percent, value=summary.tuned.leak_rate * 100)
    metrics.add_metric(name="TunedRougeL", unit=MetricUnit.Count, value=summary.tuned.rouge_l)
    return summary.model_dump(mode="json")
