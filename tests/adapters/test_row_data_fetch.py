"""HttpsRowDataFetcher against a local http.server on 127.0.0.1 (no real network).

The local server speaks plain http, so these tests allow the "http" scheme through `allowed_schemes`;
the https-only default is tested on its own, and never reaches the server.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest

from labeltune.adapters.row_data_fetch import HttpsRowDataFetcher, _SchemeCheckingRedirects
from labeltune.errors import RowDataFetchError

CHAT = "Agent: Hello, how can I help?\nCustomer: Où est ma commande ? 🙂\n"
CAP = 1000


class Handler(http.server.BaseHTTPRequestHandler):
    requests_seen: list[str] = []  # class-level: the server makes one handler instance per request

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.requests_seen.append(self.path)
        port = int(self.server.server_address[1])  # type: ignore[index]
        routes = {
            "/chat.txt": lambda: self._send(200, CHAT.encode()),
            "/bom.txt": lambda: self._send(200, b"\xef\xbb\xbf" + CHAT.encode()),
            "/exact.txt": lambda: self._send(200, b"x" * CAP),
            "/latin1.txt": lambda: self._send(200, "Où est ma commande".encode("latin-1")),
            "/missing.txt": lambda: self._send(404, b"not found"),
            "/error.txt": lambda: self._send(500, b"boom"),
            "/declared-large.txt": lambda: self._send(200, b"", {"Content-Length": str(CAP * 100)}),
            "/redirect-http": lambda: self._send(302, b"", {"Location": "/chat.txt"}),
            "/redirect-https": lambda: self._send(302, b"", {"Location": f"https://127.0.0.1:{port}/chat.txt"}),
            "/redirect-file": lambda: self._send(302, b"", {"Location": "file:///etc/passwd"}),
            "/redirect-loop": lambda: self._send(302, b"", {"Location": "/redirect-loop"}),
        }
        if self.path in routes:
            routes[self.path]()
        elif self.path == "/endless.txt":
            self._endless()
        elif self.path == "/slow-headers.txt":
            time.sleep(1.5)
            self._send(200, CHAT.encode())
        elif self.path == "/drip.txt":
            self._drip()
        else:
            self._send(404, b"")

    def _endless(self) -> None:
        """A body with no length that never ends: only a reader that stops at the cap survives it."""
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"y" * 4096)
        except OSError:
            pass

    def _drip(self) -> None:
        """One byte every 0.2 s: each read is within the socket timeout, the whole body is not."""
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would take the loopback requests elsewhere."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def local(**kwargs: float) -> HttpsRowDataFetcher:
    return HttpsRowDataFetcher(allowed_schemes=("http",), max_bytes=CAP, **kwargs)


def reason(fetcher: HttpsRowDataFetcher, url: str) -> str:
    with pytest.raises(RowDataFetchError) as raised:
        fetcher.fetch(url)
    assert "?" not in str(raised.value)  # no query string (signed URLs carry credentials there)
    return raised.value.reason


def test_fetches_utf8_text(base_url: str) -> None:
    assert local().fetch(f"{base_url}/chat.txt") == CHAT
    assert local().fetch(f"  {base_url}/chat.txt\n") == CHAT  # row_data often carries stray whitespace


def test_drops_a_byte_order_mark(base_url: str) -> None:
    assert local().fetch(f"{base_url}/bom.txt") == CHAT


def test_a_body_of_exactly_the_cap_is_accepted(base_url: str) -> None:
    assert local().fetch(f"{base_url}/exact.txt") == "x" * CAP


def test_http_errors_are_fetch_failures(base_url: str) -> None:
    assert reason(local(), f"{base_url}/missing.txt?X-Amz-Signature=secret") == "row_data_fetch_failed"
    assert reason(local(), f"{base_url}/error.txt") == "row_data_fetch_failed"


def test_a_refused_connection_is_a_fetch_failure() -> None:
    assert reason(local(), f"http://127.0.0.1:{closed_port()}/chat.txt") == "row_data_fetch_failed"


def test_text_that_is_not_utf8_is_rejected(base_url: str) -> None:
    assert reason(local(), f"{base_url}/latin1.txt") == "row_data_not_utf8"


def test_a_declared_oversize_body_is_rejected_before_reading(base_url: str) -> None:
    assert reason(local(), f"{base_url}/declared-large.txt") == "row_data_too_large"


def test_an_endless_body_stops_at_the_cap(base_url: str) -> None:
    started = time.monotonic()
    assert reason(local(), f"{base_url}/endless.txt") == "row_data_too_large"
    assert time.monotonic() - started < 5


def test_a_slow_server_times_out(base_url: str) -> None:
    assert reason(local(timeout_seconds=0.5), f"{base_url}/slow-headers.txt") == "row_data_fetch_timeout"


def test_a_dripping_body_times_out_on_the_overall_deadline(base_url: str) -> None:
    started = time.monotonic()
    assert reason(local(timeout_seconds=1), f"{base_url}/drip.txt") == "row_data_fetch_timeout"
    assert time.monotonic() - started < 3


def test_redirects_are_followed_within_the_allowed_schemes(base_url: str) -> None:
    assert local().fetch(f"{base_url}/redirect-http") == CHAT


@pytest.mark.parametrize("path", ["/redirect-https", "/redirect-file"])
def test_redirects_to_other_schemes_are_refused(base_url: str, path: str) -> None:
    # With only "http" allowed here, a redirect to https is as foreign as one to file://.
    assert reason(local(), f"{base_url}{path}") == "row_data_url_scheme"


def test_a_redirect_loop_is_a_fetch_failure(base_url: str) -> None:
    assert reason(local(), f"{base_url}/redirect-loop") == "row_data_fetch_failed"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/chat.txt", "ftp://example.com/chat.txt", "file:///etc/passwd", "chat.txt", ""]
)
def test_by_default_only_https_is_fetched(base_url: str, url: str) -> None:
    Handler.requests_seen.clear()
    assert reason(HttpsRowDataFetcher(), url) == "row_data_url_scheme"
    assert reason(HttpsRowDataFetcher(), f"{base_url}/chat.txt") == "row_data_url_scheme"
    assert Handler.requests_seen == []  # refused before any request


@pytest.mark.parametrize("location", ["http://example.com/chat.txt", "file:///etc/passwd", "ftp://example.com/x"])
def test_by_default_redirects_go_to_https_only(location: str) -> None:
    handler = _SchemeCheckingRedirects(HttpsRowDataFetcher().allowed_schemes)
    headers = Message()
    headers["Location"] = location

    with pytest.raises(RowDataFetchError) as raised:
        handler.http_error_302(urllib.request.Request("https://example.com/a"), None, 302, "Found", headers)
    assert raised.value.reason == "row_data_url_scheme"


def test_an_https_redirect_passes_the_default_check() -> None:
    class Parent:
        def open(self, request: urllib.request.Request, timeout: float | None = None) -> str:
            return request.full_url

    handler = _SchemeCheckingRedirects(("https",))
    handler.parent = Parent()  # type: ignore[assignment]
    headers = Message()
    headers["Location"] = "/moved/chat.txt"  # relative: resolved against the https original

    original = urllib.request.Request("https://example.com/a")
    original.timeout = 10  # set by the opener on every request it sends

    followed = handler.http_error_302(original, io.BytesIO(b""), 302, "Found", headers)
    assert followed == "https://example.com/moved/chat.txt"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HttpsRowDataFetcher(timeout_seconds=0)
    with pytest.raises(ValueError):
        HttpsRowDataFetcher(max_bytes=0)


def closed_port() -> int:
    """A loopback port that was free a moment ago: (almost certainly) nothing listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
