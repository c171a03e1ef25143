"""Each function runs with only what its layers ship: its handler, and the SDKs its wiring imports lazily,
import in a Python where every other installed distribution is hidden.

The layers of a function are read from template.yaml (Globals first, then its own), each layer's
requirements from layers/<name>/requirements.txt; the allowed distributions are their dependency closure in
this venv, plus boto3's (boto3, botocore, s3transfer and their dependencies come with the Lambda runtime).
A subprocess of this venv's interpreter replaces its import system's finders with one that hides every
module that is not the standard library, the labeltune package (functions/labeltune: not the tooling) or
part of an allowed distribution, exactly as if it were not installed. It imports the handler, then touches
every `Services` property the handler uses (which imports the adapters and SDKs lazily, builds the clients,
makes no call) and the lazily imported code paths below. No sam, no network: a template or code change that
makes a function need a package its layers do not carry fails here, not at its first cold start.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
from typing import Any

import pytest

from labeltune_tools.packaging import function_layers, layer_requirements_file

from .conftest import ROOT
from .layers import load_build_layer

build_layer = load_build_layer()

RUNTIME_PROVIDED = ["boto3"]  # the Lambda Python runtime's boto3 and its dependencies

# Code paths that import lazily and are not a `Services` property: run after the properties are built.
LAZY_PATHS: dict[str, list[str]] = {
    "ExportLabelsFunction": [
        "services.exports.client",  # labelbox.Client, built without a call
        "__import__('labeltune.adapters.labelbox_export', fromlist=['_is_transient'])._is_transient(OSError())",
        "__import__('labelbox.schema.export_task')",  # what start/poll/iterate import
    ],
    "PrepareDatasetFunction": [
        "__import__('labeltune.dataset.tokens', fromlist=['TokenCounter']).TokenCounter('gpt-4.1-mini').count('hi')",
    ],
    "EvaluateFunction": [
        "__import__('labeltune.domain.metrics', fromlist=['rouge_l']).rouge_l('the cats sat', 'the cat sat')",
    ],
    "PublishPredictionsFunction": [
        "__import__('labeltune.adapters.labelbox_predictions')",  # the Labelbox sink (LabelSource=labelbox)
        "__import__('labeltune.adapters.s3_predictions')",
        "__import__('labelbox.schema.annotation_import')",
    ],
    "OpenAIJobEventsFunction": [
        "__import__('labeltune.pipeline.completion')",  # imported by the route when first called
    ],
}

ENVIRONMENT = {  # what the template sets (placeholders), and a region for boto3's clients
    "TABLE_NAME": "runs",
    "BUCKET_NAME": "artifacts",
    "PROJECTS_TABLE_NAME": "projects",
    "DELIVERIES_TABLE_NAME": "deliveries",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:labeltune-pipeline",
    "LABEL_SOURCE": "labelbox",
    "LABELBOX_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:labelbox",
    "OPENAI_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai",
    "WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook",
    "WEBHOOK_SECRET_PREFIX": "labeltune/labelbox-webhook/",
    "BEDROCK_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/bedrock-jobs",
    "POWERTOOLS_SERVICE_NAME": "labeltune",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_LAMBDA_FUNCTION_NAME": "import-check",
}

CHILD = r"""
import importlib.machinery, importlib.metadata, inspect, json, os, re, sys, sysconfig
from functools import cached_property

config = json.loads(sys.argv[1])
allowed = set(config["allowed"])
package = os.path.realpath(config["package"]) + os.sep
sys.path.insert(0, os.path.dirname(os.path.realpath(config["package"])))  # this checkout's labeltune


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


owners = {}  # installed file (absolute, not resolved) -> its distribution
for dist in importlib.metadata.distributions():
    name = canonical(dist.metadata["Name"])
    for file in dist.files or ():
        owners[os.path.normpath(dist.locate_file(file))] = name
stdlib = tuple(os.path.realpath(sysconfig.get_paths()[key]) + os.sep for key in ("stdlib", "platstdlib"))
hidden = set()


def visible(spec):
    origin = spec.origin
    if origin in (None, "built-in", "frozen", "namespace") or not os.path.isabs(origin):
        return True  # built into the interpreter, or a namespace package (its modules are checked one by one)
    if os.path.realpath(origin).startswith(package):
        return True  # the function's own code
    owner = owners.get(os.path.normpath(origin))
    if owner is not None:
        return owner in allowed
    path = os.path.realpath(origin)
    return path.startswith(stdlib) and "-packages" + os.sep not in path


class OnlyTheLayers:
    # The interpreter's own finders, with whatever the function's layers do not ship made invisible.
    def __init__(self, finders):
        self.finders = finders

    def find_spec(self, fullname, path=None, target=None):
        for finder in self.finders:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if visible(spec):
                    return spec
                hidden.add(fullname)
                return None
        return None

    def find_distributions(self, context=importlib.metadata.DistributionFinder.Context()):
        # Installed metadata too (importlib.metadata.version(...)): only the allowed distributions have any.
        for finder in self.finders:
            find = getattr(finder, "find_distributions", None)
            for dist in find(context) if find else ():
                if canonical(dist.metadata["Name"]) in allowed:
                    yield dist

    def invalidate_caches(self):
        for finder in self.finders:
            getattr(finder, "invalidate_caches", lambda: None)()


sys.meta_path[:] = [OnlyTheLayers(list(sys.meta_path))]
importlib.import_module(config["handler"])

import labeltune.wiring as wiring
from labeltune.settings import Settings

PER_PROVIDER = ("fine_tuning", "serving", "chat")

wiring.read_secret = lambda arn, what: "test-key"  # no Secrets Manager call
services = wiring.Services(Settings.from_env())
built = []
for entry in config["properties"]:
    name, _, fixed = entry.partition(":")
    if isinstance(inspect.getattr_static(wiring.Services, name, None), cached_property):
        getattr(services, name)
        built.append(entry)
    elif name in PER_PROVIDER:  # a project's provider picks the adapter: build both, unless the code names one
        for provider in [fixed] if fixed else ("openai", "bedrock"):
            getattr(services, name)(provider)
        built.append(entry)
for expression in config["lazy"]:
    eval(expression, {"services": services})
print(json.dumps({"built": built, "hidden": sorted(hidden)}))
"""


def _resolved_here() -> dict[str, Any]:
    """This venv's distributions, as build_layer.closure reads a resolution."""
    return {
        build_layer.canonical(dist.metadata["Name"]): build_layer.Resolved(dist.version, tuple(dist.requires or ()))
        for dist in importlib.metadata.distributions()
    }


def allowed_distributions(function: str, template: dict[str, Any]) -> set[str]:
    requirements = [*RUNTIME_PROVIDED]
    for layer in function_layers(template)[function]:
        requirements += build_layer.read_requirements(layer_requirements_file(ROOT, layer))
    # This interpreter's markers: the check runs here, on the dev venv's versions of the same distributions.
    return set(build_layer.closure(requirements, _resolved_here(), stop=(), environment={}))


def _is_services(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "svc") or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "services"
    )


def services_used(handler_module: str) -> list[str]:
    """Attribute names the handler reads from `svc` or `services()`: the Services properties it builds. A
    per-provider method called with a literal provider only (`svc.fine_tuning("bedrock")`) is "name:provider"."""
    source = (ROOT / "functions" / (handler_module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    names, fixed, other = set(), set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _is_services(node.value):
            names.add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_services(node.func.value):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                fixed.add((node.func.attr, first.value))
            else:
                other.add(node.func.attr)
    literal_only = {(name, provider) for name, provider in fixed if name not in other}
    names -= {name for name, _ in literal_only}
    return sorted(names | {f"{name}:{provider}" for name, provider in literal_only})


def _functions(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: resource["Properties"]["Handler"].rpartition(".")[0]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def run_with_only_its_layers(
    handler: str, allowed: set[str], properties: list[str], lazy: list[str]
) -> subprocess.CompletedProcess[str]:
    config = {
        "allowed": sorted(allowed),
        "package": str(ROOT / "functions" / "labeltune"),
        "handler": handler,
        "properties": properties,
        "lazy": lazy,
    }
    return subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", **ENVIRONMENT},
        cwd=ROOT / "functions",  # not the checkout: its labeltune.egg-info would claim the package's files
    )


FUNCTIONS = [
    "ApiFunction",
    "ExportLabelsFunction",
    "PrepareDatasetFunction",
    "StartFineTuneFunction",
    "CheckFineTuneFunction",
    "ServeModelFunction",
    "EvaluateFunction",
    "RecordOutcomeFunction",
    "OpenAIJobEventsFunction",
    "BedrockJobEventsFunction",
    "PublishPredictionsFunction",
    "RunEventsFunction",
]


def test_every_function_of_the_template_is_checked(template: dict[str, Any]) -> None:
    assert sorted(_functions(template)) == sorted(FUNCTIONS)
    assert set(LAZY_PATHS) <= set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_handler_and_its_lazy_imports_need_only_its_layers(function: str, template: dict[str, Any]) -> None:
    handler = _functions(template)[function]
    properties = services_used(handler)
    allowed = allowed_distributions(function, template)
    result = run_with_only_its_layers(handler, allowed, properties, LAZY_PATHS.get(function, []))
    assert result.returncode == 0, f"{function} with only {sorted(allowed)}:\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["built"], f"{function}: no Services property was built (properties read: {properties})"


def test_the_check_hides_what_a_function_does_not_ship(template: dict[str, Any]) -> None:
    """The hook is not a no-op: the webhook function cannot import the SDKs of the other steps."""
    allowed = allowed_distributions("ApiFunction", template)
    assert {"aws-lambda-powertools", "pydantic", "boto3", "botocore"} <= allowed
    assert not {"openai", "labelbox", "tiktoken", "numpy", "nltk"} & allowed
    probes = ["__import__('openai')"]
    result = run_with_only_its_layers("labeltune.handlers.api", allowed, [], probes)
    assert result.returncode != 0 and "No module named 'openai'" in result.stderr
    tools = run_with_only_its_layers("labeltune.handlers.api", allowed, [], ["__import__('labeltune_tools')"])
    assert tools.returncode != 0 and "No module named 'labeltune_tools'" in tools.stderr  # tooling is not deployed
