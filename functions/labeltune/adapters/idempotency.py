"""`Once` on Powertools idempotency: each Labelbox delivery id is processed once, its reply replayed after.

Records live in the idempotency table (TTL attribute `expiration`) for a week, longer than Labelbox
would keep retrying a delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

DELIVERY_TTL_SECONDS = 7 * 24 * 3600


class PowertoolsOnce:
    """Callable as `once(delivery_id, work)`; a repeat of a delivery id replays the stored reply."""

    def __init__(self, table_name: str) -> None:
        persistence = DynamoDBPersistenceLayer(table_name=table_name)
        self.config = IdempotencyConfig(
            event_key_jmespath="delivery_id",
            expires_after_seconds=DELIVERY_TTL_SECONDS,
            raise_on_no_idempotency_key=True,
        )

        @idempotent_function(data_keyword_argument="delivery", persistence_store=persistence, config=self.config)
        def _process(delivery: dict[str, str], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            return work()

        self._process = _process

    def register_lambda_context(self, context: Any) -> None:
        """Lets an in-progress record expire with the invocation, so a timed-out one can be retried."""
        self.config.register_lambda_context(context)

    def __call__(self, delivery_id: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return self._process(delivery={"delivery_id": delivery_id}, work=work)
        except IdempotencyAlreadyInProgressError:
            return {"duplicate": True, "in_progress": True}
