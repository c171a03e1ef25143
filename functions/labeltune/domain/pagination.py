"""The page token of GET /projects/{id}/runs: where the next page starts, opaque to the caller.

The token is the last run of a page as the `by_project` index keys it (project, creation time, run id), base64url
JSON. It is not a secret (it only names a place in a listing the caller may read anyway), but it is never trusted:
a token that does not decode to exactly that shape, or that names another project, is refused (a 400), so what
reaches DynamoDB as ExclusiveStartKey is always a key of the project the caller asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labeltune.domain.identifiers import is_project_id
from labeltune.domain.run_ids import is_valid_run_id

MAX_TOKEN_CHARS = 1024  # a token holds a project id (128), a run id (80) and a time: a few hundred characters
MIN_LIMIT, MAX_LIMIT, DEFAULT_LIMIT = 1, 100, 50
TOKEN_VERSION = 1
_TOKEN_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")
_FIELDS = {"v", "p", "c", "r"}
_ISO_LENGTH = 40  # the run store's ISO times are 29 characters; anything much longer is not one


class InvalidPageRequest(ValueError):
    """A limit or page token the API refuses with a 400 (`field` says which; the token is never echoed)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PageKey:
    """Where a page of a project's runs starts: after this run (its index key)."""

    project_id: str
    created_at: str
    run_id: str

    def as_key(self) -> dict[str, str]:
        """The key DynamoDB's ExclusiveStartKey takes for the `by_project` index (table key and index key)."""
        return {"project_id": self.project_id, "created_at": self.created_at, "run_id": self.run_id}


def encode_token(key: PageKey) -> str:
    payload = {"v": TOKEN_VERSION, "p": key.project_id, "c": key.created_at, "r": key.run_id}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_iso_time(value: str) -> bool:
    if len(value) > _ISO_LENGTH:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def decode_token(token: str, project_id: str) -> PageKey:
    """The key a token names, for `project_id` only; InvalidPageRequest for anything else."""
    if not token or len(token) > MAX_TOKEN_CHARS or not _TOKEN_ALPHABET.match(token):
        raise InvalidPageRequest("next_token", "next_token is not a token this API issued")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload: Any = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidPageRequest("next_token", "next_token is not a token this API issued") from None
    if not isinstance(payload, dict) or set(payload) != _FIELDS or payload["v"] != TOKEN_VERSION:
        raise InvalidPageRequest("next_token", "next_token is not a token this API issued")
    owner, created_at, run_id = payload["p"], payload["c"], payload["r"]
    if not all(isinstance(value, str) for value in (owner, created_at, run_id)):
        raise InvalidPageRequest("next_token", "next_token is not a token this API issued")
    if not is_project_id(owner) or not is_valid_run_id(run_id) or not _is_iso_time(created_at):
        raise InvalidPageRequest("next_token", "next_token is not a token this API issued")
    if owner != project_id:
        raise InvalidPageRequest("next_token", "next_token belongs to another listing")
    return PageKey(project_id=owner, created_at=created_at, run_id=run_id)


def parse_limit(value: str | None) -> int:
    """The page size: DEFAULT_LIMIT when absent, else a decimal integer in [MIN_LIMIT, MAX_LIMIT]."""
    if value is None:
        return DEFAULT_LIMIT
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        raise InvalidPageRequest("limit", f"limit must be an integer from {MIN_LIMIT} to {MAX_LIMIT}")
    limit = int(value)
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise InvalidPageRequest("limit", f"limit must be an integer from {MIN_LIMIT} to {MAX_LIMIT}")
    return limit
