"""The PublishPredictions entry point: a project without predictions costs no Labelbox client and no secret;
one with them reaches the pipeline with the parsed event and a time check from the Lambda context."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from labeltune.handlers import publish_predictions
from labeltune.pipeline.predictions import PublishResult
from labeltune_tools.embedded.lambda_runtime import LambdaContext

RUN = "run-sample-0001"
PROJECT = "clx-support-summaries-demo"


def _context(timeout_seconds: int) -> LambdaContext:
    name = "publish-predictions"
    return LambdaContext(name, 512, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", timeout_seconds)


def _event(enabled: bool) -> dict[str, Any]:
    return {"run_id": RUN, "project_id": PROJECT, "config": {"predictions": {"enabled": enabled}}}


def test_predictions_off_touch_no_service(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_services() -> Any:
        raise AssertionError("services built for a project without predictions")

    monkeypatch.setattr(publish_predictions, "services", no_services)
    result = publish_predictions.handler(_event(False), _context(900))
    assert (result["published"], result["reason"]) == (False, "predictions are off for this project")


def test_predictions_on_reach_the_pipeline_with_a_time_check(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def publish(*args: Any, **kwargs: Any) -> PublishResult:
        calls.append((args, kwargs))
        return PublishResult(run_id=args[0], published=True, uploaded=3)

    svc = SimpleNamespace(store="store", predictions="sink", runs="runs")
    monkeypatch.setattr(publish_predictions, "services", lambda: svc)
    monkeypatch.setattr(publish_predictions, "publish_predictions", publish)
    result = publish_predictions.handler(_event(True), _context(900))
    assert (result["published"], result["uploaded"], result["complete"]) == (True, 3, True)
    ((args, kwargs),) = calls
    assert args[:2] == (RUN, PROJECT) and args[2].predictions.enabled and args[3:] == ("store", "sink", "runs")
    assert kwargs["should_stop"]() is False  # 900 s left: room for another batch
    publish_predictions.handler(_event(True), _context(300))
    assert calls[1][1]["should_stop"]() is True


def test_an_event_without_a_project_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_predictions, "services", lambda: pytest.fail("no work for a bad event"))
    with pytest.raises(ValidationError):
        publish_predictions.handler({"run_id": RUN}, _context(900))
