"""Give moto's DynamoDB the atomicity real DynamoDB has, and (on request) the conflicts it has too.

DynamoDB evaluates a condition and applies the write as one step per item (and a transaction as one step
overall). moto checks and writes in separate Python steps without a lock, so two threads can both pass the
same condition — which would make the "exactly one concurrent claim wins" rule untestable and the local
stack wrong under concurrent webhooks. Serialising moto's item operations restores the real guarantee.

Serialised, moto never does what real DynamoDB does under concurrent transactions on the same items: cancel
one with `TransactionConflict`. `inject_transaction_conflicts(rate)` makes that many transactions fail that
way (seeded), so the load benchmark and the tests exercise the retry path a deployed stack depends on.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


class _Conflicts:
    def __init__(self) -> None:
        self.rate = 0.0
        self.random = random.Random(0)
        self.injected = 0


CONFLICTS = _Conflicts()


def make_moto_dynamodb_atomic() -> None:
    """Idempotent: wraps each operation once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_labeltune_atomic", False):
            continue
        setattr(DynamoDBBackend, name, _serialised(original, conflicts=name == "transact_write_items"))


def inject_transaction_conflicts(rate: float, seed: int = 0) -> None:
    """From now on, cancel this share of moto's TransactWriteItems calls with TransactionConflict, as real
    DynamoDB does when transactions touch the same items at once (0 turns it off)."""
    if not 0 <= rate <= 1:
        raise ValueError("the conflict rate is a share between 0 and 1")
    with _LOCK:
        CONFLICTS.rate, CONFLICTS.random, CONFLICTS.injected = rate, random.Random(seed), 0


def _serialised(operation: Callable[..., Any], conflicts: bool = False) -> Callable[..., Any]:
    @functools.wraps(operation)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            if conflicts and CONFLICTS.rate and CONFLICTS.random.random() < CONFLICTS.rate:
                from moto.dynamodb.exceptions import TransactionCanceledException

                CONFLICTS.injected += 1
                items = args[1] if len(args) > 1 else kwargs.get("transact_items", [])
                reason = ("TransactionConflict", "Transaction is ongoing for the item", None)
                raise TransactionCanceledException([reason for _ in items] or [reason])
            return operation(*args, **kwargs)

    wrapper._labeltune_atomic = True  # type: ignore[attr-defined]
    return wrapper
