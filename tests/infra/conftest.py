"""Fixtures for the infrastructure tests: the SAM template, its offline translation and the ASL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labeltune_tools.embedded.template import load_template, translate_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "infra" / "statemachine" / "pipeline.asl.json"

# The contract the handlers are written against (logical id -> handler string).
EXPECTED_HANDLERS: dict[str, str] = {
    "ApiFunction": "labeltune.handlers.api.handler",
    "ExportLabelsFunction": "labeltune.handlers.export_labels.handler",
    "PrepareDatasetFunction": "labeltune.handlers.prepare_dataset.handler",
    "StartFineTuneFunction": "labeltune.handlers.start_fine_tune.handler",
    "CheckFineTuneFunction": "labeltune.handlers.check_fine_tune.handler",
    "ServeModelFunction": "labeltune.handlers.serve_model.handler",
    "EvaluateFunction": "labeltune.handlers.evaluate.handler",
    "RecordOutcomeFunction": "labeltune.handlers.record_outcome.handler",
    "OpenAIJobEventsFunction": "labeltune.handlers.openai_job_events.handler",
    "BedrockJobEventsFunction": "labeltune.handlers.bedrock_job_events.handler",
    "PublishPredictionsFunction": "labeltune.handlers.publish_predictions.handler",
    "RunEventsFunction": "labeltune.handlers.run_events.handler",
}


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The SAM template as written, intrinsic short tags turned into dicts."""
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The template after the SAM transform, as CloudFormation would receive it (offline)."""
    return translate_template(template, base_dir=ROOT)


@pytest.fixture(scope="session")
def asl() -> dict[str, Any]:
    """The state machine definition."""
    return json.loads(ASL_PATH.read_text(encoding="utf-8"))
