"""Labelbox webhook signatures: HMAC over the exact bytes received, compared in constant time.

Labelbox sends `X-Hub-Signature-256: sha256=<hex>` and/or `X-Hub-Signature: sha1=<hex>`. It does not
document that both always come, so either is accepted; when the SHA-256 header is present it is the
only one checked (a weaker header cannot rescue a bad strong one).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

_SCHEMES = (("x-hub-signature-256", "sha256", hashlib.sha256), ("x-hub-signature", "sha1", hashlib.sha1))


def sign(secret: str | bytes, body: bytes, algorithm: str = "sha256") -> str:
    """The header value Labelbox would send for `body` (used by tests, the demo and sample events)."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def verify_signature(secret: str | bytes, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the strongest signature header present matches `body`."""
    if not secret:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    key = secret.encode() if isinstance(secret, str) else secret
    for header, prefix, algorithm in _SCHEMES:
        value = lowered.get(header)
        if value is None:
            continue
        scheme, _, received = value.strip().partition("=")
        if scheme.lower() != prefix or not received:
            return False
        expected = hmac.new(key, body, algorithm).hexdigest()
        return received.isascii() and hmac.compare_digest(expected, received.strip().lower())
    return False
