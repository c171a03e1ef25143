"""The shapes of the identifiers labeltune accepts from outside, checked before they become keys.

An id from a URL path or an unsigned header is used in DynamoDB keys (at most 2,048 bytes for a partition
key), in Secrets Manager names and in log lines. Labelbox ids are cuids (25 lowercase letters and digits);
these patterns accept every such id and plain readable names, and nothing that could collide with
labeltune's own item keys (which contain '#') or break a secret name.
"""

from __future__ import annotations

import re

PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
# Labelbox's X-Labelbox-Id is a UUID; printable ASCII without spaces, bounded, covers any reasonable variant.
DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,128}")
LABEL_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def is_project_id(value: object) -> bool:
    return isinstance(value, str) and PROJECT_ID.fullmatch(value) is not None


def is_delivery_id(value: object) -> bool:
    return isinstance(value, str) and DELIVERY_ID.fullmatch(value) is not None


def is_label_id(value: object) -> bool:
    return isinstance(value, str) and LABEL_ID.fullmatch(value) is not None
