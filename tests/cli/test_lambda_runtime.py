"""The local stack's Lambda runtime leaves a function's metrics behind as a Lambda's flush does: with metrics
disabled locally, Powertools keeps them in a process-wide set that would otherwise grow for as long as
`labeltune local up` runs (and print EMF once a metric reaches 100 values)."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from labeltune.handlers.observability import lambda_entry, metrics
from labeltune_tools.embedded.lambda_runtime import RUNTIME, LambdaContext

VARIABLES = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "LabelTune"}


@lambda_entry
def _handler(event: dict, context: object) -> dict:
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return {}


def test_metrics_do_not_pile_up_across_local_invocations(capsys: pytest.CaptureFixture[str]) -> None:
    context = LambdaContext("RunEventsFunction", 512, "arn:aws:lambda:us-east-1:123456789012:function:f", 60)
    for _ in range(150):  # past Powertools' 100 values per metric, where it would print EMF
        with RUNTIME.function_environment("labeltune-local-RunEventsFunction", VARIABLES):
            _handler({}, context)
        assert not metrics.metric_set
    assert "_aws" not in capsys.readouterr().out  # no EMF document printed
