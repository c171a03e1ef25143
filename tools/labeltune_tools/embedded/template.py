"""Read the SAM template offline: CloudFormation YAML into plain dicts, and SAM into CloudFormation.

The local stack and the infra tests build from the same ``template.yaml`` that ``sam deploy`` uses, so
what runs offline is what ships. Plain PyYAML cannot read CloudFormation's short intrinsic tags
(``!Ref``, ``!GetAtt``, ``!Sub`` ...); this loader turns them into the long JSON forms
(``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``) that ``samtranslator`` and moto's CloudFormation expect.
Only the local tooling imports this module (PyYAML and samtranslator are in the ``local`` extra, not in
the Lambda bundle's requirements).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CfnYamlLoader",
    "inline_local_artifacts",
    "load_template",
    "loads_template",
    "translate_template",
]


class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short tags and keeps dates as strings.

    CloudFormation reads an unquoted ``2010-09-09`` as a string; PyYAML's timestamp resolver would
    turn it into a ``datetime.date``, so that resolver is removed from this loader only.
    """


CfnYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Build the Python value of a tagged node, whatever its YAML kind."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    """Map ``!Name value`` to the long form CloudFormation uses in JSON."""
    value = _construct_node(loader, node)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # "Resource.Attr.Sub" -> ["Resource", "Attr.Sub"]: the logical id never contains a dot.
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnYamlLoader.add_multi_constructor("!", _construct_intrinsic)


def loads_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation/SAM YAML (or JSON, a YAML subset) text into plain dicts."""
    document = yaml.load(text, Loader=CfnYamlLoader)
    if not isinstance(document, dict):
        raise ValueError("a CloudFormation template must be a mapping at the top level")
    return document


def load_template(path: str | Path) -> dict[str, Any]:
    """Load a CloudFormation/SAM template file with its short intrinsic tags resolved to dicts."""
    return loads_template(Path(path).read_text(encoding="utf-8"))


def inline_local_artifacts(
    template: dict[str, Any],
    base_dir: str | Path,
    code_uri: str = "s3://labeltune-local-artifacts/functions.zip",
    layer_uri_prefix: str = "s3://labeltune-local-artifacts/layers/",
) -> dict[str, Any]:
    """Return a copy of ``template`` whose local paths are replaced as ``sam package`` would.

    ``samtranslator`` only accepts S3 locations for ``CodeUri``, ``ContentUri`` and ``DefinitionUri``;
    ``sam package`` normally uploads them. Offline, function code and layer contents are replaced by
    placeholder S3 URIs (the local stack runs handlers in process, with the development venv's packages,
    never from a zip or a layer) and state machine definitions are inlined from disk so the translated
    template carries the real ASL.
    """
    base = Path(base_dir)
    result = copy.deepcopy(template)
    function_globals = result.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = code_uri
    for logical_id, resource in result.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = code_uri
        if kind == "AWS::Serverless::LayerVersion" and isinstance(properties.get("ContentUri"), str):
            properties["ContentUri"] = f"{layer_uri_prefix}{logical_id}.zip"
        if kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            definition_path = base / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_path.read_text(encoding="utf-8"))
    return result


class _OfflineManagedPolicyLoader:
    """Managed-policy lookup without IAM (the real loader lists every AWS managed policy).

    SAM adds its own managed policies (basic execution, X-Ray) as ARNs without this map, and for a
    policy named in the template it falls back to ``arn:<partition>:iam::aws:policy/<name>``, so an
    empty map keeps translation offline.
    """

    def load(self) -> dict[str, str]:
        """Return the (empty) managed policy name -> ARN map."""
        return {}


def translate_template(
    template: dict[str, Any],
    parameter_values: dict[str, Any] | None = None,
    base_dir: str | Path | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """Translate a SAM template into plain CloudFormation, offline.

    When ``base_dir`` is given, local ``CodeUri``/``ContentUri``/``DefinitionUri`` paths are first handled by
    :func:`inline_local_artifacts`. Unset parameters take the template's defaults. ``transform()``
    would ask boto3's default session for the region (failing without AWS config), so the translator
    gets an explicit session for ``region`` instead; creating it makes no network call.
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    source = inline_local_artifacts(template, base_dir) if base_dir is not None else copy.deepcopy(template)
    values: dict[str, Any] = dict(parameter_values or {})
    to_py27_compatible_template(source, values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    policies = _OfflineManagedPolicyLoader()
    translated = translator.translate(source, parameter_values=values, get_managed_policy_map=policies.load)
    return undo_mark_unicode_str_in_template(translated)
