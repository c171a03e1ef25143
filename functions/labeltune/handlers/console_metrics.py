"""The console's metrics with a dimension of their own (a run's stage, a webhook response's status class).

Powertools' shared `Metrics` object puts every metric of an invocation under one dimension set, so a metric
with its own dimension goes out in its own EMF document: an `EphemeralMetrics` with the same namespace and
service (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME), flushed at once. template.yaml's dashboard and
alarms name exactly these dimensions (tests/infra/test_dashboard.py runs the handlers to check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from labeltune.domain.run_events import MetricPoint
from labeltune.handlers.http_errors import answered_status
from labeltune.handlers.observability import metrics

WEBHOOK_RESPONSES = "WebhookResponses"
STATUS_CLASS = "StatusClass"


def emit(point: MetricPoint) -> None:
    """A metric with only the service dimension joins the invocation's shared set (flushed by lambda_entry);
    one with dimensions of its own is published on its own."""
    unit = MetricUnit(point.unit)
    if not point.dimensions:
        metrics.add_metric(name=point.name, unit=unit, value=point.value)
        return
    own = EphemeralMetrics()
    for name, value in point.dimensions:
        own.add_dimension(name=name, value=value)
    own.add_metric(name=point.name, unit=unit, value=point.value)
    own.flush_metrics()


def status_class(status: int) -> str:
    """2xx, 4xx or 5xx (a 3xx counts with the successes: the webhook answers none)."""
    return "5xx" if status >= 500 else "4xx" if status >= 400 else "2xx"


def count_webhook_response(status: int) -> None:
    emit(MetricPoint(WEBHOOK_RESPONSES, "Count", 1, ((STATUS_CLASS, status_class(status)),)))


@contextmanager
def webhook_responses() -> Iterator[Callable[[int], None]]:
    """Count the webhook's response by class: the route calls the yielded function with its reply's status; an
    exception is counted with the status the API answers it with, and raised on."""
    try:
        yield count_webhook_response
    except Exception as error:
        count_webhook_response(answered_status(error))
        raise
