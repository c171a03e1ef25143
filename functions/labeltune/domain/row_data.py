"""What a Labelbox data row's `row_data` holds: the document itself, an https URL to it, or a cloud storage
URI (`gs://` for Google Cloud delegated access, `s3://`) that names the document without being it.

A URI is never the chat: trained on as text, a run would teach the model file paths. The export stage
fetches web URLs; a cloud storage URI is rejected with its own reason code (labeltune does not read other
clouds' buckets, nor S3 buckets it was not given), and the converter refuses any URI that reaches it.
"""

from __future__ import annotations

import re

WEB_SCHEMES = frozenset({"http", "https"})
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_MAX_URI = 8192


def uri_scheme(value: object) -> str | None:
    """The scheme (lowercase) when `value` is one URI and nothing else, None when it is text."""
    if not isinstance(value, str) or "://" not in value[:64]:  # cheap: a chat rarely starts with a scheme
        return None
    text = value.strip()
    if len(text) > _MAX_URI or not _URI.fullmatch(text):
        return None
    return text.split("://", 1)[0].lower()


def web_url(value: object) -> str | None:
    """The URL to fetch when row_data is an http(s) URL (the fetcher refuses plain http), else None."""
    scheme = uri_scheme(value)
    return str(value).strip() if scheme in WEB_SCHEMES else None


def is_storage_uri(value: object) -> bool:
    """True when row_data names an object in some storage (gs://, s3://, ...) rather than holding text."""
    scheme = uri_scheme(value)
    return scheme is not None and scheme not in WEB_SCHEMES
