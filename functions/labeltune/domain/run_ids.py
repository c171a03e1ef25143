"""Run identifiers double as Step Functions execution names, which makes starts idempotent."""

from __future__ import annotations

import hashlib
import re
import uuid

_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")


def run_id_for_delivery(project_id: str, delivery_id: str) -> str:
    """The same webhook delivery always maps to the same run, so a repeat cannot start a second one."""
    digest = hashlib.sha256(f"{project_id}\n{delivery_id}".encode()).hexdigest()[:24]
    return f"run-{digest}"


def new_manual_run_id(project_id: str, idempotency_key: str | None = None) -> str:
    """A manual start: idempotent when the caller supplies a key, otherwise unique."""
    if idempotency_key:
        return run_id_for_delivery(project_id, f"manual:{idempotency_key}")
    return f"run-{uuid.uuid4().hex[:24]}"


def is_valid_run_id(value: str) -> bool:
    """Execution names: 1-80 characters of letters, digits, '-' and '_'."""
    return 0 < len(value) <= 80 and not _NAME_UNSAFE.search(value)
