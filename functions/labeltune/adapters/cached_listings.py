"""The providers' model listings, asked at most once an hour per container and never in the way.

The catalog is consulted on every project PUT and view and at the start of every run: asking the providers
each time would add their latency (and their outages) to each. So each provider's answer is kept for `ttl`;
a listing that fails (network, auth, throttling, a malformed answer) leaves that provider on the catalog
file, is logged with the provider and the error's class only (an error's text can carry what was sent), and
is asked again after `retry_after`, so an outage costs one slow request per provider every few minutes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from labeltune.catalog.live import LiveModel, ModelListing
from labeltune.clock import Clock

logger = logging.getLogger(__name__)

LISTING_TTL = timedelta(hours=1)
RETRY_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class _Answer:
    models: dict[str, LiveModel] | None  # None: the listing failed, the file stands
    expires: datetime


class CachedListings:
    """Each provider's latest listing, cached per container for a bounded time."""

    def __init__(
        self,
        listings: Iterable[ModelListing],
        clock: Clock,
        ttl: timedelta = LISTING_TTL,
        retry_after: timedelta = RETRY_AFTER,
    ) -> None:
        self._listings = list(listings)
        self._clock = clock
        self._ttl = ttl
        self._retry_after = retry_after
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()  # the local stack runs several functions' handlers in one process

    def current(self) -> dict[str, dict[str, LiveModel]]:
        """provider -> listed id -> LiveModel, for each provider whose listing is known now."""
        with self._lock:
            now = self._clock()
            known: dict[str, dict[str, LiveModel]] = {}
            for listing in self._listings:
                answer = self._answers.get(listing.provider)
                if answer is None or now >= answer.expires:
                    answer = self._answers[listing.provider] = self._ask(listing, now)
                if answer.models is not None:
                    known[listing.provider] = answer.models
            return known

    def _ask(self, listing: ModelListing, now: datetime) -> _Answer:
        try:
            return _Answer(listing.list_model_dates(), now + self._ttl)
        except Exception as error:  # a listing must never block: any failure leaves the file's answer
            logger.warning(
                "model listing of %s failed (%s): using the catalog file",
                listing.provider,
                type(error).__name__,
                extra={"provider": listing.provider, "error_class": type(error).__name__},
            )
            return _Answer(None, now + self._retry_after)
