"""The local stack builds the template as CloudFormation would: conditions resolved, parameters checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from labeltune_tools.embedded.resources import LocalResources, Resolver, build_resources, check_parameters

ROOT = Path(__file__).resolve().parents[2]


def resolved_reserved_concurrency(value: str) -> Any:
    with mock_aws():
        built = build_resources(
            boto3.Session(region_name="us-east-1"), ROOT, parameters={"ApiReservedConcurrency": value}
        )
    props = Resolver(built).resolve(built.template["Resources"]["ApiFunction"]["Properties"])
    return props.get("ReservedConcurrentExecutions")


def test_a_condition_picks_the_value_or_leaves_the_property_out() -> None:
    assert int(resolved_reserved_concurrency("20")) == 20
    assert resolved_reserved_concurrency("0") is None  # AWS::NoValue: no reservation at all


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"FallbackCheckSeconds": "1"}, "below its MinValue 150"),
        ({"LabelSource": "ftp"}, "not one of"),
        ({"ApiReservedConcurrency": "-1"}, "below its MinValue 0"),
    ],
)
def test_values_cloudformation_would_refuse_are_refused(values: dict[str, str], words: str) -> None:
    with mock_aws(), pytest.raises(ValueError, match=words):
        build_resources(boto3.Session(region_name="us-east-1"), ROOT, parameters=values)


def test_parameter_checks_read_the_declared_constraints() -> None:
    declared = {"N": {"Type": "Number", "MaxValue": 5}, "P": {"Type": "String", "AllowedPattern": "[a-z]+"}}
    check_parameters(declared, {"N": "5", "P": "abc"})
    with pytest.raises(ValueError, match="above its MaxValue 5"):
        check_parameters(declared, {"N": "6", "P": "abc"})
    with pytest.raises(ValueError, match="not matching"):
        check_parameters(declared, {"N": "1", "P": "ABC"})


def test_resources_keep_the_template_they_were_built_from() -> None:
    with mock_aws():
        built: LocalResources = build_resources(boto3.Session(region_name="us-east-1"), ROOT)
    assert "ApiFunction" in built.template["Resources"] and "Conditions" in built.template
