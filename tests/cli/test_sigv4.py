"""The local stack's SigV4 verification (labeltune_tools.embedded.sigv4): AWS's published test vectors, requests
signed by botocore, and every part of a signed request tampered with in turn."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labeltune_tools.embedded import sigv4
from labeltune_tools.embedded.sigv4 import FORBIDDEN, MISMATCH, UNKNOWN_KEY, Request, verify

# AWS's Signature Version 4 test suite (the documented "get-vanilla" examples): key, secret, time and scope.
EXAMPLE_KEY, EXAMPLE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
EXAMPLE_SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
GET_VANILLA = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
GET_VANILLA_QUERY_ORDER = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"

KEY, SECRET, REGION = "AKIDLOCALTEST", "a-test-secret", "us-east-1"


def example(query: str, signature: str) -> Request:
    authorization = f"AWS4-HMAC-SHA256 Credential={EXAMPLE_SCOPE}, SignedHeaders=host;x-amz-date, Signature={signature}"
    headers = (("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("Authorization", authorization))
    return Request("GET", "/", query, headers, b"")


def verify_example(request: Request, now: datetime = EXAMPLE_TIME) -> sigv4.Verdict:
    return verify(request, {EXAMPLE_KEY: EXAMPLE_SECRET}.get, now, region="us-east-1", service="service")


def test_aws_get_vanilla_vectors_verify() -> None:
    assert verify_example(example("", GET_VANILLA)) == sigv4.Verdict(ok=True, access_key=EXAMPLE_KEY)
    # The query is canonicalised (sorted) before signing: sent in either order, the signature holds.
    assert verify_example(example("Param2=value2&Param1=value1", GET_VANILLA_QUERY_ORDER)).ok
    assert verify_example(example("Param1=value1&Param2=value2", GET_VANILLA_QUERY_ORDER)).ok


def test_aws_vector_canonical_request_and_signature_are_the_documented_ones() -> None:
    canonical = sigv4.canonical_request(example("", GET_VANILLA), ["host", "x-amz-date"])
    assert canonical == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    scope = EXAMPLE_SCOPE.split("/", 1)[1]
    assert sigv4.signature(EXAMPLE_SECRET, "20150830T123600Z", scope, canonical) == GET_VANILLA


def test_aws_vector_with_another_signature_query_or_time_is_refused() -> None:
    assert verify_example(example("", GET_VANILLA.replace("5", "6", 1))).message == MISMATCH
    assert verify_example(example("Param1=value2", GET_VANILLA)).message == MISMATCH
    late = verify_example(example("", GET_VANILLA), now=EXAMPLE_TIME + timedelta(minutes=5, seconds=1))
    assert late.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    )
    early = verify_example(example("", GET_VANILLA), now=EXAMPLE_TIME - timedelta(minutes=5, seconds=1))
    assert early.message == (
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)"
    )
    # Within five minutes either way it holds.
    assert verify_example(example("", GET_VANILLA), now=EXAMPLE_TIME + timedelta(minutes=5)).ok
    assert verify_example(example("", GET_VANILLA), now=EXAMPLE_TIME - timedelta(minutes=5)).ok


# -- requests signed by botocore, as the CLI signs them -------------------------------------------------


def botocore_signed(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    key: str = KEY,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "execute-api",
) -> tuple[Request, datetime]:
    """The request as botocore's SigV4Auth signs it and a server receives it, and the time it was signed."""
    aws = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret), service, region).add_auth(aws)
    parts = urllib.parse.urlsplit(url)
    sent = [("host", parts.netloc), *aws.headers.items()]
    signed_at = datetime.strptime(aws.headers["X-Amz-Date"], sigv4.AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    return Request(method, parts.path or "/", parts.query, tuple(sent), body), signed_at


def check(request: Request, now: datetime) -> sigv4.Verdict:
    return verify(request, {KEY: SECRET}.get, now, region=REGION)


URL = "http://127.0.0.1:8000/projects/p-1/runs?limit=1&next_token=eyJhIjogMX0%3D%2F%2B"


def test_botocore_signed_requests_verify() -> None:
    request, now = botocore_signed("GET", URL)
    assert check(request, now) == sigv4.Verdict(ok=True, access_key=KEY)
    body = b'{"min_new_labels": 3}'
    put, now = botocore_signed("PUT", "http://127.0.0.1:8000/projects/p-1", body, {"Content-Type": "application/json"})
    assert check(put, now).ok
    post, now = botocore_signed("POST", "https://abc.execute-api.us-east-1.amazonaws.com/runs/run-1/cancel")
    assert check(post, now).ok


def replaced(request: Request, name: str, value: str) -> Request:
    headers = tuple((k, value if k.lower() == name else v) for k, v in request.headers)
    return Request(request.method, request.path, request.query, headers, request.body)


def test_every_tampered_part_is_refused() -> None:
    body = b'{"min_new_labels": 3}'
    request, now = botocore_signed(
        "PUT", "http://127.0.0.1:8000/projects/p-1?x=1", body, {"Content-Type": "application/json"}
    )
    assert check(request, now).ok
    tampered = {
        "path": Request("PUT", "/projects/p-2", request.query, request.headers, body),
        "query": Request("PUT", request.path, "x=2", request.headers, body),
        "query added": Request("PUT", request.path, "x=1&y=1", request.headers, body),
        "method": Request("POST", request.path, request.query, request.headers, body),
        "body": Request("PUT", request.path, request.query, request.headers, b'{"min_new_labels": 4}'),
        "signed header": replaced(request, "content-type", "text/plain"),
        "host": replaced(request, "host", "127.0.0.1:8001"),
        "date": replaced(request, "x-amz-date", (now + timedelta(seconds=1)).strftime(sigv4.AMZ_DATE_FORMAT)),
    }
    for part, changed in tampered.items():
        assert check(changed, now).message == MISMATCH, part
    wrong_secret, now = botocore_signed("GET", URL, secret="not-the-secret")
    assert check(wrong_secret, now).message == MISMATCH
    unknown_key, now = botocore_signed("GET", URL, key="AKIDSOMEONEELSE")
    assert check(unknown_key, now).message == UNKNOWN_KEY


def test_scope_headers_and_skew_are_checked_like_api_gateway() -> None:
    other_region, now = botocore_signed("GET", URL, region="eu-west-1")
    assert check(other_region, now).message == "Credential should be scoped to a valid region."
    other_service, now = botocore_signed("GET", URL, service="s3")
    assert check(other_service, now).message == "Credential should be scoped to correct service: 'execute-api'."
    request, now = botocore_signed("GET", URL)
    assert check(request, now + timedelta(minutes=6)).message.startswith("Signature expired: ")
    assert check(request, now - timedelta(minutes=6)).message.startswith("Signature not yet current: ")
    unsigned = Request("GET", "/projects/p-1", "", (("host", "127.0.0.1:8000"),), b"")
    assert check(unsigned, now) == sigv4.Verdict(ok=False, message=FORBIDDEN)
    assert check(unsigned, now).body() == {"message": "Forbidden"}


def test_malformed_or_incomplete_authorization_is_refused_without_echoing_it() -> None:
    request, now = botocore_signed("GET", URL)
    authorization = dict((k.lower(), v) for k, v in request.headers)["authorization"]
    cases = {
        "Bearer zq-canary-7731": "Authorization header requires 'Credential' parameter.",
        "AWS4-HMAC-SHA256 zq-canary-7731": "Invalid key=value pair (missing equal-sign) in Authorization header.",
        authorization.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"): sigv4.HOST_NOT_SIGNED,
        authorization.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host"): sigv4.DATE_NOT_SIGNED,
        authorization.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date;host"): MISMATCH,
        authorization.replace("/aws4_request", "/aws5_request"): "Credential should be scoped with a valid "
        "terminator: 'aws4_request'.",
        authorization.replace(", Signature=", ", Nonsense="): "Authorization header requires 'Signature' parameter.",
    }
    for value, message in cases.items():
        verdict = check(replaced(request, "authorization", value), now)
        assert not verdict.ok and verdict.message.startswith(message), value
        assert "zq-canary-7731" not in verdict.message
    no_date = Request(
        "GET", request.path, request.query, tuple(h for h in request.headers if h[0] != "X-Amz-Date"), b""
    )
    assert check(no_date, now).message == sigv4.NO_DATE
    other_day = replaced(request, "authorization", authorization.replace(now.strftime("/%Y%m%d/"), "/20150830/"))
    assert check(other_day, now).message.startswith("Date in Credential scope does not match")


def test_asgi_request_keeps_the_raw_path_and_query_as_sent() -> None:
    scope = {
        "method": "GET",
        "path": "/projects/a b",  # decoded by the server
        "raw_path": b"/projects/a%20b",
        "query_string": b"next_token=x%2By&limit=1",
        "headers": [(b"host", b"127.0.0.1:8000")],
    }
    request = sigv4.asgi_request(scope, b"")
    assert (request.path, request.query) == ("/projects/a%20b", "next_token=x%2By&limit=1")
    assert request.header_values("host") == ["127.0.0.1:8000"]
    assert sigv4.canonical_uri(request.path) == "/projects/a%2520b"  # every service but S3 encodes it again
    assert sigv4.canonical_query(request.query) == "limit=1&next_token=x%2By"


@pytest.mark.parametrize("query", ["a=1&b=2", "b=2&a=1"])
def test_botocore_and_the_verifier_agree_on_query_order(query: str) -> None:
    request, now = botocore_signed("GET", f"http://127.0.0.1:8000/runs/r?{query}")
    assert check(request, now).ok
