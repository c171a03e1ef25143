"""Powertools Logger/Tracer/Metrics shared by every handler. Logs carry ids and counts, never content."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

# Handlers without a business metric of their own still flush the cold-start metric; no warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = Callable[[Any, Any], Any]


def lambda_entry(handler: Handler) -> Handler:
    """Structured logs with the request id, an X-Ray segment, and flushed metrics for every handler.
    The event is never logged: it can hold chat text."""
    wrapped = metrics.log_metrics(raise_on_empty_metrics=False)(tracer.capture_lambda_handler(handler))
    return logger.inject_lambda_context(log_event=False)(wrapped)
