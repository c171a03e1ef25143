"""Labelbox webhook signatures: either header accepted, SHA-256 preferred, anything malformed rejected."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from labeltune.domain.signature import sign, verify_signature

SECRET = "8f1c2e3d4b5a69788796a5b4c3d2e1f0"
BODY = b'{"id": "label-1", "project": {"id": "proj-1"}, "dataRow": {"id": "dr-1"}}'
SHA256 = "X-Hub-Signature-256"
SHA1 = "X-Hub-Signature"


def _hex(algorithm: str, secret: str = SECRET, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def test_sign_produces_the_header_value_labelbox_sends() -> None:
    assert sign(SECRET, BODY) == "sha256=" + _hex("sha256")
    assert sign(SECRET, BODY, "sha1") == "sha1=" + _hex("sha1")
    assert sign(SECRET.encode(), BODY) == sign(SECRET, BODY)


def test_valid_sha256_is_accepted() -> None:
    assert verify_signature(SECRET, BODY, {SHA256: f"sha256={_hex('sha256')}"})


def test_valid_sha1_alone_is_accepted() -> None:
    assert verify_signature(SECRET, BODY, {SHA1: f"sha1={_hex('sha1')}"})


def test_both_headers_valid_is_accepted() -> None:
    headers = {SHA256: sign(SECRET, BODY), SHA1: sign(SECRET, BODY, "sha1")}
    assert verify_signature(SECRET, BODY, headers)


def test_bytes_secret_is_accepted() -> None:
    assert verify_signature(SECRET.encode(), BODY, {SHA256: sign(SECRET, BODY)})


def test_wrong_sha256_is_not_rescued_by_a_valid_sha1() -> None:
    headers = {SHA256: sign("another-secret", BODY), SHA1: sign(SECRET, BODY, "sha1")}
    assert not verify_signature(SECRET, BODY, headers)


def test_malformed_sha256_is_not_rescued_by_a_valid_sha1() -> None:
    headers = {SHA256: "sha256", SHA1: sign(SECRET, BODY, "sha1")}
    assert not verify_signature(SECRET, BODY, headers)


def test_valid_sha256_with_a_wrong_sha1_is_accepted() -> None:
    headers = {SHA256: sign(SECRET, BODY), SHA1: sign("another-secret", BODY, "sha1")}
    assert verify_signature(SECRET, BODY, headers)


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b"dr-1", b"dr-2"),
        BODY + b"\n",
        b" " + BODY,
        b"",
    ],
    ids=["changed-byte", "trailing-newline", "leading-space", "empty"],
)
@pytest.mark.parametrize("algorithm,header", [("sha256", SHA256), ("sha1", SHA1)])
def test_tampered_body_is_rejected(tampered: bytes, algorithm: str, header: str) -> None:
    assert not verify_signature(SECRET, tampered, {header: sign(SECRET, BODY, algorithm)})


def test_missing_headers_are_rejected() -> None:
    assert not verify_signature(SECRET, BODY, {})
    assert not verify_signature(SECRET, BODY, {"Content-Type": "application/json", "X-Labelbox-Id": "d-1"})


@pytest.mark.parametrize("algorithm,header", [("sha256", SHA256), ("sha1", SHA1)])
def test_wrong_secret_is_rejected(algorithm: str, header: str) -> None:
    assert not verify_signature(SECRET, BODY, {header: sign("not-the-secret", BODY, algorithm)})


@pytest.mark.parametrize("empty", ["", b""])
def test_empty_secret_rejects_even_a_matching_signature(empty: str | bytes) -> None:
    # HMAC with an empty key is computable by anyone: an unconfigured secret must not authenticate.
    assert not verify_signature(empty, BODY, {SHA256: sign(empty, BODY)})
    assert not verify_signature(empty, BODY, {SHA1: sign(empty, BODY, "sha1")})


@pytest.mark.parametrize(
    "name", ["x-hub-signature-256", "X-HUB-SIGNATURE-256", "X-Hub-Signature-256", "x-Hub-sIgnature-256"]
)
def test_sha256_header_name_in_any_case(name: str) -> None:
    assert verify_signature(SECRET, BODY, {name: sign(SECRET, BODY)})


@pytest.mark.parametrize("name", ["x-hub-signature", "X-HUB-SIGNATURE"])
def test_sha1_header_name_in_any_case(name: str) -> None:
    assert verify_signature(SECRET, BODY, {name: sign(SECRET, BODY, "sha1")})


def test_scheme_and_hex_case_and_surrounding_space_are_tolerated() -> None:
    assert verify_signature(SECRET, BODY, {SHA256: f"  SHA256={_hex('sha256').upper()}  "})


@pytest.mark.parametrize(
    "value",
    [
        "sha256",  # no "="
        "sha256=",  # no digest
        f"md5={hashlib.md5(BODY).hexdigest()}",  # unknown scheme
        f"sha1={_hex('sha1')}",  # a sha1 digest in the sha256 header
        _hex("sha256"),  # bare digest, no scheme
        f"sha256:{_hex('sha256')}",  # wrong separator
        f"sha256={_hex('sha256')[:-2]}",  # truncated
        "",
    ],
    ids=["no-equals", "no-digest", "md5", "sha1-in-256-header", "bare-digest", "colon", "truncated", "empty"],
)
def test_malformed_sha256_header_is_rejected(value: str) -> None:
    assert not verify_signature(SECRET, BODY, {SHA256: value})


@pytest.mark.parametrize("value", ["sha1", "sha1=", f"md5={hashlib.md5(BODY).hexdigest()}", sign(SECRET, BODY)])
def test_malformed_sha1_header_is_rejected(value: str) -> None:
    assert not verify_signature(SECRET, BODY, {SHA1: value})


@pytest.mark.parametrize(
    "value",
    ["sha256=\u00e9\u00e9", f"sha256={_hex('sha256')[:-1]}\u00e9", "sha256=\udcff"],
    ids=["accents", "near-miss", "surrogate"],
)
def test_non_ascii_signature_is_rejected_not_raised(value: str) -> None:
    # Anyone can send any header: a junk value must give "not verified" (401), not an exception (500).
    assert verify_signature(SECRET, BODY, {SHA256: value}) is False
