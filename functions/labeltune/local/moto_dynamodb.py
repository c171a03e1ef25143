"""Give moto's DynamoDB the atomicity real DynamoDB has.

DynamoDB evaluates a condition and applies the write as one step per item (and a transaction as one step
overall). moto checks and writes in separate Python steps without a lock, so two threads can both pass the
same condition — which would make the "exactly one concurrent claim wins" rule untestable and the local
stack wrong under concurrent webhooks. Serialising moto's item operations restores the real guarantee.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def make_moto_dynamodb_atomic() -> None:
    """Idempotent: wraps each operation once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_labeltune_atomic", False):
            continue
        setattr(DynamoDBBackend, name, _serialised(original))


def _serialised(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return operation(*args, **kwargs)

    wrapper._labeltune_atomic = True  # type: ignore[attr-defined]
    return wrapper
