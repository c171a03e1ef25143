"""What the providers list now, merged over the dated catalog: where a provider lists its models, the live
answer wins over the file.

OpenAI's `GET /v1/models` names the models this account can use, each with a `shutdown_date` once one is
announced; Bedrock's `ListFoundationModels(byCustomizationType=FINE_TUNING)` names the base models this Region
fine-tunes, with their lifecycle (a LEGACY model takes no new fine-tuning jobs; the lifecycle differs per
Region). The file still says what labeltune trains and how (record bounds, inference ids, sources): a listing
moves its dates and narrows it, never widens it. The rules of `merge_live`, per catalog model of a provider
whose listing is known:

- listed: a date the provider gives replaces the file's (earlier or later); a date it does not give leaves
  the file's, since "not announced" is not "withdrawn". A LEGACY model is closed for training from its
  legacy date, or from `on` when the provider gives none (or a later one).
- not listed (OpenAI: the account cannot see it; Bedrock: not customizable in this Region), or listed as not
  customizable: refused, with the reason.
- a model the provider lists and the file lacks stays unknown, so untrainable: the file holds what a run
  needs besides the dates.

Ids: an entry matches a listed id equal to its own id or an alias. Bedrock's training ids carry a context
length (`amazon.nova-micro-v1:0:128k`), which `ListFoundationModels` returns as its own customizable
summary; a listing that names only the id without that suffix (`amazon.nova-micro-v1:0`) as customizable
matches too. A different suffix does not: it is not the id a job would be created with.

Pure: the listings and the date are passed in. Fetching, caching and falling back to the file when a
provider cannot be asked are the adapters' (`adapters/cached_listings.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from labeltune.catalog import CatalogModel, ModelCatalog, Verdict

# The context-length suffix of a Bedrock training id: "amazon.nova-micro-v1:0:128k".
_CONTEXT_SUFFIX = re.compile(r":\d+k$")
# Why a provider's listing lacks a model, as the refusal says it.
UNLISTED_REASONS = {
    "openai": "OpenAI does not list it for this account (GET /v1/models)",
    "bedrock": "Bedrock does not offer it for fine-tuning in this Region (ListFoundationModels)",
}


@dataclass(frozen=True)
class LiveModel:
    """What a provider says of one model now. `legacy`: closed for new jobs (from `training_closes`, or from
    the day of the check when no date is given)."""

    listed: bool = True
    shutdown: date | None = None
    training_closes: date | None = None
    legacy: bool = False


class ModelListing(Protocol):
    """A provider's own list of the models it fine-tunes, with their dates (raises when it cannot be asked)."""

    provider: str

    def list_model_dates(self) -> dict[str, LiveModel]: ...


class LiveModelCatalog(ModelCatalog):
    """The catalog with the providers' listings merged in: `unlisted` holds (provider, model, reason) for the
    entries a provider's listing refuses, on top of the file's dates."""

    unlisted: tuple[tuple[str, str, str], ...] = ()

    def check(self, provider: str, model: str, on: date) -> Verdict:
        verdict = super().check(provider, model, on)
        entry = self.entry(provider, model)
        if entry is None:
            return verdict
        reasons = tuple(reason for p, m, reason in self.unlisted if (p, m) == (provider, entry.model))
        if not reasons:
            return verdict
        return verdict.model_copy(update={"problems": (*verdict.problems, *reasons)})


def _listed_as(entry: CatalogModel, listed: Mapping[str, LiveModel]) -> LiveModel | None:
    """The provider's answer for an entry: by its id or an alias, else by its id without a context suffix."""
    for name in (entry.model, *entry.aliases):
        if name in listed:
            return listed[name]
    bare = _CONTEXT_SUFFIX.sub("", entry.model)
    return listed.get(bare) if bare != entry.model else None


def _merged_entry(entry: CatalogModel, live: LiveModel, on: date) -> CatalogModel:
    closes = live.training_closes
    if live.legacy:
        closes = on if closes is None else min(closes, on)
    return entry.model_copy(
        update={
            "shutdown": live.shutdown if live.shutdown is not None else entry.shutdown,
            "training_closes": closes if closes is not None else entry.training_closes,
        }
    )


def merge_live(catalog: ModelCatalog, listings: Mapping[str, Mapping[str, LiveModel]], on: date) -> LiveModelCatalog:
    """The catalog as the providers' listings (provider -> listed id -> LiveModel) say it is on `on`. A
    provider without a listing (switched off, or it could not be asked) keeps the file's answer."""
    unlisted = list(catalog.unlisted) if isinstance(catalog, LiveModelCatalog) else []
    models = []
    for entry in catalog.models:
        listed = listings.get(entry.provider)
        if listed is None or entry.provider not in catalog.providers:
            models.append(entry)
            continue
        live = _listed_as(entry, listed)
        if live is None or not live.listed:
            why = UNLISTED_REASONS.get(entry.provider, f"{entry.provider} does not list it")
            unlisted.append((entry.provider, entry.model, f"{entry.model} cannot be fine-tuned now: {why}"))
            models.append(entry)
            continue
        models.append(_merged_entry(entry, live, on))
    fields = {name: getattr(catalog, name) for name in ModelCatalog.model_fields}
    return LiveModelCatalog(**{**fields, "models": tuple(models), "unlisted": tuple(unlisted)})
