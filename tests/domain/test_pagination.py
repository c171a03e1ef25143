"""The runs listing's page token: what it names, and every way a caller's token is refused (never a 500)."""

from __future__ import annotations

import base64
import json

import pytest

from labeltune.domain.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    InvalidPageRequest,
    PageKey,
    decode_token,
    encode_token,
    parse_limit,
)

KEY = PageKey(project_id="proj-a", created_at="2026-11-20T09:15:02.123+00:00", run_id="run-0123456789abcdef")


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_token_names_the_run_a_page_starts_after() -> None:
    token = encode_token(KEY)
    assert decode_token(token, "proj-a") == KEY
    assert KEY.as_key() == {"project_id": "proj-a", "created_at": KEY.created_at, "run_id": KEY.run_id}
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # URL-safe as is


def test_a_token_of_another_project_is_refused() -> None:
    with pytest.raises(InvalidPageRequest, match="another listing") as refused:
        decode_token(encode_token(KEY), "proj-b")
    assert refused.value.field == "next_token"


GOOD = {"v": 1, "p": "proj-a", "c": KEY.created_at, "r": KEY.run_id}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "A",  # one character of base64 is no byte
        "x" * 2000,  # over the length bound
        _token("a string"),
        _token([1, 2]),
        _token({**GOOD, "v": 2}),
        _token({**GOOD, "extra": 1}),
        _token({k: v for k, v in GOOD.items() if k != "r"}),
        _token({**GOOD, "r": "run with spaces"}),
        _token({**GOOD, "r": "r" * 81}),
        _token({**GOOD, "r": 7}),
        _token({**GOOD, "p": "proj#a"}),
        _token({**GOOD, "c": "yesterday"}),
        _token({**GOOD, "c": "2026-11-20T09:15:02"}),  # no zone: not a time the store writes
        _token({**GOOD, "c": "2026-11-20T09:15:02.123+00:00" + " " * 40}),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode().rstrip("="),  # not UTF-8
        _token({"v": 1, "p": {"$ne": None}, "c": KEY.created_at, "r": KEY.run_id}),  # an injected map
        encode_token(KEY)[:-3],  # cut short
        encode_token(KEY)[:10] + "Z" + encode_token(KEY)[11:],  # a character changed
    ],
)
def test_a_token_that_is_not_one_this_api_issued_is_refused(token: str) -> None:
    with pytest.raises(InvalidPageRequest) as refused:
        decode_token(token, "proj-a")
    assert refused.value.field == "next_token"
    assert str(refused.value) == "next_token is not a token this API issued"  # the token itself is never echoed


def test_deeply_nested_json_in_a_token_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidPageRequest):
        decode_token(base64.urlsafe_b64encode(b"[" * 300 + b"]" * 300).decode().rstrip("="), "proj-a")


@pytest.mark.parametrize(("value", "limit"), [(None, DEFAULT_LIMIT), ("1", 1), ("100", MAX_LIMIT), ("050", 50)])
def test_limit_bounds(value: str | None, limit: int) -> None:
    assert parse_limit(value) == limit


@pytest.mark.parametrize(
    "value", ["0", "101", "-1", "1.5", "", "ten", "1e2", "0x10", "\uff11\uff10", "99999999999999999999"]
)
def test_a_limit_out_of_bounds_or_not_an_integer_is_refused(value: str) -> None:
    with pytest.raises(InvalidPageRequest) as refused:
        parse_limit(value)
    assert refused.value.field == "limit"
