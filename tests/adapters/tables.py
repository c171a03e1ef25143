"""Create template.yaml's DynamoDB tables in moto, as declared (keys, indexes), for adapter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labeltune_tools.embedded.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def create_table(dynamodb: Any, logical_id: str, table_name: str) -> Any:
    """The table `logical_id` of template.yaml, created under `table_name` with its keys and indexes."""
    properties = load_template(TEMPLATE)["Resources"][logical_id]["Properties"]
    args: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties["BillingMode"],
    }
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if indexes in properties:
            args[indexes] = properties[indexes]
    return dynamodb.create_table(**args)
