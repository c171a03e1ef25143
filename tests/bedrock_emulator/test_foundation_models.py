"""ListFoundationModels with a model's lifecycle set by the test: the shape botocore reads (checked against its
service model at teardown, see conftest.py), and a Legacy base model refusing new customization jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from labeltune_tools.bedrock_emulator import BedrockEmulator
from tests.bedrock_emulator.conftest import NOVA_MICRO, job_request

LEGACY_AT = datetime(2026, 9, 1, 12, 30, tzinfo=UTC)
END_OF_LIFE = datetime(2027, 3, 1, tzinfo=UTC)


def _by_id(bedrock: Any, **filters: str) -> dict[str, dict[str, Any]]:
    return {s["modelId"]: s for s in bedrock.list_foundation_models(**filters)["modelSummaries"]}


def test_a_legacy_model_is_listed_with_its_dates(emulator: BedrockEmulator, bedrock: Any) -> None:
    emulator.set_model_lifecycle(
        NOVA_MICRO, "LEGACY", legacy_time=LEGACY_AT.timestamp(), end_of_life_time=END_OF_LIFE.timestamp()
    )
    listed = _by_id(bedrock, byCustomizationType="FINE_TUNING")
    assert listed[NOVA_MICRO]["modelLifecycle"] == {
        "status": "LEGACY",
        "legacyTime": LEGACY_AT,
        "endOfLifeTime": END_OF_LIFE,
    }
    assert listed["amazon.nova-lite-v1:0:300k"]["modelLifecycle"] == {"status": "ACTIVE"}
    # The on-demand id has a lifecycle of its own (it is another model id on Bedrock).
    on_demand = _by_id(bedrock, byInferenceType="ON_DEMAND")["amazon.nova-micro-v1:0"]
    assert on_demand["modelLifecycle"] == {"status": "ACTIVE"}


def test_a_legacy_model_takes_no_new_customization_job(
    emulator: BedrockEmulator, bedrock: Any, training_uri: str
) -> None:
    emulator.set_model_lifecycle(NOVA_MICRO, "LEGACY")
    with pytest.raises(bedrock.exceptions.ValidationException, match="Legacy"):
        bedrock.create_model_customization_job(**job_request(training_uri))
    emulator.set_model_lifecycle(NOVA_MICRO, "ACTIVE")
    assert bedrock.create_model_customization_job(**job_request(training_uri))["jobArn"]


def test_only_known_ids_and_statuses_are_accepted(emulator: BedrockEmulator) -> None:
    with pytest.raises(ValueError, match="not a model"):
        emulator.set_model_lifecycle("anthropic.claude-v2", "LEGACY")
    with pytest.raises(ValueError, match="status"):
        emulator.set_model_lifecycle(NOVA_MICRO, "RETIRED")
