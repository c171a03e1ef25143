"""RowDataFetcher over the standard library: a data row's text, when Labelbox holds a URL instead of the text.

Why so strict: the URL comes from data, not from configuration, so the fetch must not be a way to reach
anything but a public HTTPS file (no plain http, no file://, no redirect to either), nor a way to make the
Lambda read an unbounded body. Every failure is a RowDataFetchError whose `reason` becomes the row's
rejection reason: one bad row never fails the run. Messages name the host only: signed URLs carry
credentials in their query string, and messages end up in logs.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from labeltune.errors import RowDataFetchError

SCHEME = "row_data_url_scheme"
TIMEOUT = "row_data_fetch_timeout"
FAILED = "row_data_fetch_failed"
TOO_LARGE = "row_data_too_large"
NOT_UTF8 = "row_data_not_utf8"

_CHUNK_BYTES = 64 * 1024


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _check_scheme(url: str, allowed: tuple[str, ...]) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in allowed:
        shown = scheme or "(none)"
        raise RowDataFetchError(SCHEME, f"row_data URL scheme {shown!r} is not allowed ({', '.join(allowed)})")


class _SchemeCheckingRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an allowed scheme. The check runs before urllib's own (which would let
    https -> http through), and a refused target is reported as a scheme problem, not a fetch failure."""

    max_redirections = 5  # each hop gets the full socket timeout: keep the worst case bounded

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__()
        self._allowed = allowed

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            _check_scheme(urljoin(req.full_url, location.strip()), self._allowed)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class HttpsRowDataFetcher:
    """Fetches `row_data` URLs (UTF-8 text files) with a timeout, a size cap and an https-only rule.

    `timeout_seconds` bounds each socket operation and the whole body read; `max_bytes` is the largest
    body accepted: reading stops at `max_bytes + 1` bytes, so an oversized (or endless) body costs at most
    that much memory. `allowed_schemes` exists for tests against a local plain-http server; production
    code keeps the default.
    """

    def __init__(
        self,
        timeout_seconds: float = 10,
        max_bytes: int = 1_048_576,
        allowed_schemes: Iterable[str] = ("https",),
    ) -> None:
        if timeout_seconds <= 0 or max_bytes <= 0:
            raise ValueError("timeout_seconds and max_bytes must be positive")
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.allowed_schemes = tuple(scheme.lower() for scheme in allowed_schemes)
        self._opener = urllib.request.build_opener(_SchemeCheckingRedirects(self.allowed_schemes))

    def fetch(self, url: str) -> str:
        url = url.strip()
        _check_scheme(url, self.allowed_schemes)
        host = _host(url)
        try:
            body = self._download(url, host)
        except RowDataFetchError:
            raise
        except urllib.error.HTTPError as error:  # before URLError: it is one
            raise RowDataFetchError(FAILED, f"row_data fetch from {host} returned HTTP {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise RowDataFetchError(TIMEOUT, f"row_data fetch from {host} timed out") from None
            reason = type(error.reason).__name__ if isinstance(error.reason, BaseException) else "URLError"
            raise RowDataFetchError(FAILED, f"row_data fetch from {host} failed: {reason}") from None
        except TimeoutError:
            raise RowDataFetchError(TIMEOUT, f"row_data fetch from {host} timed out") from None
        except (http.client.HTTPException, OSError, ValueError) as error:
            raise RowDataFetchError(FAILED, f"row_data fetch from {host} failed: {type(error).__name__}") from None
        try:
            return body.decode("utf-8-sig")  # a byte-order mark is tolerated and dropped
        except UnicodeDecodeError:
            raise RowDataFetchError(NOT_UTF8, f"row_data from {host} is not UTF-8 text") from None

    def _download(self, url: str, host: str) -> bytes:
        request = urllib.request.Request(
            url, headers={"Accept-Encoding": "identity", "User-Agent": "labeltune-row-data-fetch"}
        )
        deadline = time.monotonic() + self.timeout_seconds
        with self._opener.open(request, timeout=self.timeout_seconds) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
                raise RowDataFetchError(
                    TOO_LARGE, f"row_data from {host} is {int(declared)} bytes (max {self.max_bytes})"
                )
            chunks: list[bytes] = []
            size = 0
            while size <= self.max_bytes:
                # The socket timeout bounds each read; the deadline bounds a body dripped in slowly.
                if time.monotonic() > deadline:
                    raise RowDataFetchError(TIMEOUT, f"row_data fetch from {host} took over {self.timeout_seconds} s")
                chunk = response.read1(min(_CHUNK_BYTES, self.max_bytes + 1 - size))  # one socket read at most
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.max_bytes:
                raise RowDataFetchError(TOO_LARGE, f"row_data from {host} is over {self.max_bytes} bytes")
        return b"".join(chunks)
