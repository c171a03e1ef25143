"""Verify an HTTP request's SigV4 signature (AWS4-HMAC-SHA256, Authorization header) as API Gateway's IAM
authorisation does, so the local stack refuses what a deployed stack would refuse.

Pure: the request, a credentials lookup and the current time are passed in. The canonical request is built
here from the request as received (the raw path and query as sent, the signed headers, the body's hash), not
by a signing library, so a signer's mistake is caught instead of being repeated. Answers carry API Gateway's
messages (403 {"message": ...}); none of them echoes a header value or the signature.

What is not emulated: IAM policies (any request signed with known credentials is allowed, where API Gateway
would also evaluate execute-api:Invoke), session tokens, presigned query-string signatures (refused as
unsigned).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=5)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# API Gateway's messages (HTTP APIs answer an unsigned request on an AWS_IAM route with "Forbidden"; REST APIs
# say "Missing Authentication Token").
FORBIDDEN = "Forbidden"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."
HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
DATE_NOT_SIGNED = "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."

_PARAMETER = re.compile(r"^\s*([A-Za-z]+)=([^,\s]*)\s*$")


@dataclass(frozen=True)
class Request:
    """A request as received: `path` and `query` exactly as sent (percent-encoded, without the '?')."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


@dataclass(frozen=True)
class Verdict:
    """`ok`, or the 403 message API Gateway would answer with; `access_key` of a verified request."""

    ok: bool
    message: str = ""
    access_key: str | None = None

    def body(self) -> dict[str, str]:
        return {"message": self.message}


def _refuse(message: str) -> Verdict:
    return Verdict(ok=False, message=message)


# -- the canonical request (docs: "Create a canonical request for Signature Version 4") ------------------


def _encode(value: str) -> str:
    """URI-encode every byte but the unreserved characters (A-Z a-z 0-9 - _ . ~), as SigV4 requires."""
    return urllib.parse.quote(value, safe="-_.~")


def canonical_uri(path: str) -> str:
    """The path as sent, encoded once more (every service but S3 double-encodes); "/" when empty."""
    return urllib.parse.quote(path or "/", safe="/~")


def canonical_query(query: str) -> str:
    """Each parameter decoded, then encoded the SigV4 way, sorted by name then value."""
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_encode(urllib.parse.unquote(name)), _encode(urllib.parse.unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _header_value(values: Iterable[str]) -> str:
    return ",".join(" ".join(value.split()) for value in values)


def canonical_request(request: Request, signed_headers: list[str]) -> str:
    headers = "".join(f"{name}:{_header_value(request.header_values(name))}\n" for name in signed_headers)
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            headers,
            ";".join(signed_headers),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, amz_date: str, scope: str, canonical: str) -> str:
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()


# -- verification ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    scope: list[str]  # date, region, service, terminator
    signed_headers: list[str]
    signature: str


def _parse_authorization(value: str) -> _Authorization | str:
    """The header's parts, or the message for a malformed one."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return (
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
            "parameter. Authorization header requires 'SignedHeaders' parameter."
        )
    parameters: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAMETER.match(part)
        if match is None:
            return "Invalid key=value pair (missing equal-sign) in Authorization header."
        parameters[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not parameters.get(name)]
    if missing:
        return " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
    access_key, _, scope = parameters["Credential"].partition("/")
    return _Authorization(
        access_key=access_key,
        scope=scope.split("/"),
        signed_headers=parameters["SignedHeaders"].split(";"),
        signature=parameters["Signature"],
    )


def _amz(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def verify(
    request: Request,
    secret_for: Callable[[str], str | None],
    now: datetime,
    *,
    region: str,
    service: str = "execute-api",
    max_skew: timedelta = MAX_SKEW,
) -> Verdict:
    """Whether `request` carries a valid SigV4 signature by a key `secret_for` knows, scoped to region and
    service, dated within `max_skew` of `now`. An unsigned request is refused with API Gateway's "Forbidden"."""
    values = request.header_values("authorization")
    if not values:
        return _refuse(FORBIDDEN)
    parsed = _parse_authorization(values[0])
    if isinstance(parsed, str):
        return _refuse(parsed)
    if len(parsed.scope) != 4:
        return _refuse(
            f"Credential should be scoped to a valid region, service and date (date/region/service/{TERMINATOR})."
        )
    date, scope_region, scope_service, terminator = parsed.scope
    if terminator != TERMINATOR:
        return _refuse(f"Credential should be scoped with a valid terminator: '{TERMINATOR}'.")
    if scope_service != service:
        return _refuse(f"Credential should be scoped to correct service: '{service}'.")
    if scope_region != region:
        return _refuse("Credential should be scoped to a valid region.")
    signed = parsed.signed_headers
    if signed != sorted(set(signed)) or any(name != name.lower() for name in signed):
        return _refuse(MISMATCH)  # the canonical form lists them lowercase, sorted, once
    if "host" not in signed:
        return _refuse(HOST_NOT_SIGNED)
    amz_dates = request.header_values("x-amz-date")
    if not amz_dates:
        return _refuse(NO_DATE)
    if "x-amz-date" not in signed:
        return _refuse(DATE_NOT_SIGNED)
    amz_date = amz_dates[0].strip()
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return _refuse(NO_DATE)
    if date != amz_date[:8]:
        return _refuse(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if signed_at < now - max_skew:
        return _refuse(
            f"Signature expired: {amz_date} is now earlier than {_amz(now - max_skew)} ({_amz(now)} - 5 min.)"
        )
    if signed_at > now + max_skew:
        return _refuse(
            f"Signature not yet current: {amz_date} is still later than {_amz(now + max_skew)} ({_amz(now)} + 5 min.)"
        )
    secret = secret_for(parsed.access_key)
    if secret is None:
        return _refuse(UNKNOWN_KEY)
    if any(not request.header_values(name) for name in signed):
        return _refuse(MISMATCH)  # a header named as signed but not sent
    expected = signature(secret, amz_date, "/".join(parsed.scope), canonical_request(request, signed))
    if not hmac.compare_digest(expected, parsed.signature):
        return _refuse(MISMATCH)
    return Verdict(ok=True, access_key=parsed.access_key)


def asgi_request(scope: Mapping[str, Any], body: bytes) -> Request:
    """The request of an ASGI HTTP scope as sent: `raw_path` (uvicorn keeps it) and the raw query string."""
    raw_path = scope.get("raw_path")
    path = (
        raw_path.decode("latin-1")
        if isinstance(raw_path, bytes)
        else urllib.parse.quote(str(scope.get("path", "/")), safe="/%~!$&'()*+,;=:@")
    )
    query = scope.get("query_string", b"")
    headers = scope.get("headers", [])
    return Request(
        method=str(scope.get("method", "GET")),
        path=path,
        query=query.decode("latin-1") if isinstance(query, bytes) else "",
        headers=tuple((bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in headers),
        body=body,
    )
