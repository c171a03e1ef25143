"""The base models the emulator serves: the fine-tunable snapshots the pipeline targets and their aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# gpt-4o-mini-2024-07-18, gpt-4.1-2025-04-14 and gpt-4.1-mini-2025-04-14 (and their fine-tunes) shut
# down on 2027-01-14 per OpenAI's deprecations page; `GET /v1/models` reports it as `shutdown_date`.
SHUTDOWN_2027_01_14 = "2027-01-14"
OWNER = "system"


@dataclass(frozen=True)
class BaseModel:
    """A base model entry of `GET /v1/models`."""

    id: str
    created: int
    snapshot: str
    shutdown_date: str | None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": OWNER,
            "shutdown_date": self.shutdown_date,
        }


_SNAPSHOTS = {
    "gpt-4.1-mini-2025-04-14": 1744317547,
    "gpt-4.1-2025-04-14": 1744316542,
    "gpt-4o-mini-2024-07-18": 1721172717,
}
_ALIASES = {
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
}

BASE_MODELS: dict[str, BaseModel] = {
    **{
        model_id: BaseModel(model_id, created, model_id, SHUTDOWN_2027_01_14)
        for model_id, created in _SNAPSHOTS.items()
    },
    **{
        alias: BaseModel(alias, _SNAPSHOTS[snapshot], snapshot, SHUTDOWN_2027_01_14)
        for alias, snapshot in _ALIASES.items()
    },
}


def resolve_base(model_id: str) -> BaseModel | None:
    """The base model for an id or alias, or None if the emulator does not serve it."""
    return BASE_MODELS.get(model_id)
