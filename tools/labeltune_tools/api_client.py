"""An HTTP client for the labeltune API: finds the API (a CloudFormation stack's ApiUrl output, a URL, or the
local stack) and signs every request with SigV4 for "execute-api", as the API's AWS_IAM routes require.

The credentials are the user's own (boto3's default chain, or a named profile); with `--local`, the local
stack's (labeltune_tools.local_auth), which open nothing anywhere else. Every failure is an `ApiError` or a
`SetupError` with a one-line message; nothing here prints what the API did not return.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labeltune_tools.local_auth import LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY, SIGNING_SERVICE

LOCAL_API_URL = "http://127.0.0.1:8000"
API_URL_OUTPUT = "ApiUrl"
TIMEOUT_SECONDS = 30.0
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class SetupError(Exception):
    """The API cannot be reached as asked (no credentials, no such stack, a bad URL): one line, exit status 2."""


class ApiError(Exception):
    """The API refused or could not be reached: one line, exit status 1. `status` is None when nothing answered."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status, self.body = status, body


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


# What sends a prepared request: (method, url, headers, body, timeout) -> (status, headers, body bytes). urllib by
# default; tests pass their own.
Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], tuple[int, Mapping[str, str], bytes]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 302 (a run's report link) is the answer itself, not somewhere to go."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def urllib_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@dataclass
class ApiClient:
    """Signed requests to one API. `credentials` is a botocore Credentials (None: requests go unsigned)."""

    base_url: str
    credentials: Any
    region: str
    local: bool = False
    transport: Transport = urllib_transport
    timeout: float = TIMEOUT_SECONDS

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        """The API's URL for `path`; the query encoded as SigV4 canonicalises it (%20, never '+')."""
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        pairs = [(k, str(v)) for k, v in (query or {}).items() if v is not None]
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        return url

    def signed_headers(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
        """`headers` plus SigV4's (X-Amz-Date, Authorization, X-Amz-Security-Token for temporary credentials)."""
        if self.credentials is None:
            return dict(headers)
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        # Frozen per request: assumed-role and SSO credentials expire within hours, a `watch` can outlast them.
        SigV4Auth(self.credentials.get_frozen_credentials(), SIGNING_SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The API's answer to a signed request; a 4xx/5xx or no answer at all raises ApiError."""
        url = self.url(path, query)
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        sent = self.signed_headers(method, url, data, sent)
        try:
            status, answer_headers, raw = self.transport(method, url, sent, data, self.timeout)
        except (OSError, TimeoutError) as error:
            raise ApiError(self._unreachable(error)) from None
        parsed = _json_or_none(raw)
        if status >= 400:
            raise ApiError(error_message(status, parsed), status=status, body=parsed)
        return Response(status, parsed, answer_headers)

    def _unreachable(self, error: BaseException) -> str:
        reason = getattr(error, "reason", None) or error
        refused = isinstance(reason, ConnectionRefusedError) or "refused" in str(reason).lower()
        if refused and self.local:
            return f"cannot connect to {self.base_url}: connection refused (is `labeltune local up` running?)"
        if refused:
            return f"cannot connect to {self.base_url}: connection refused"
        return f"cannot reach {self.base_url}: {' '.join(str(reason).split())}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).body

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).body

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs).body


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def error_message(status: int, body: Any) -> str:
    """One line for an error answer: the API's {"message", "errors"}, and what a 403 usually means."""
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message) if message else f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        details = [
            f"{e.get('field')}: {e.get('message')}" if isinstance(e, dict) and e.get("field") else str(e.get("message"))
            for e in body["errors"]
            if isinstance(e, dict)
        ]
        if details:
            text += " (" + "; ".join(details) + ")"
    if status == 403:
        return (
            f"HTTP 403 {text}: the request's SigV4 signature was refused, or these credentials may not call "
            "execute-api:Invoke on this API"
        )
    return f"HTTP {status} {text}"


# -- finding the API and the credentials ----------------------------------------------------------------


def region_of_api(url: str) -> str | None:
    """The region in an execute-api host name (https://abc123.execute-api.eu-west-1.amazonaws.com/)."""
    match = _EXECUTE_API_HOST.match(urllib.parse.urlsplit(url).hostname or "")
    return match.group(1) if match else None


def api_url_from_stack(cloudformation: Any, stack_name: str) -> str:
    """The stack's ApiUrl output (boto3 CloudFormation client)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except BotoCoreError as error:  # no credentials, no endpoint: one line
        raise SetupError(f"cannot read stack {stack_name}: {error}") from None
    except ClientError as error:
        code, message = error.response["Error"].get("Code", ""), error.response["Error"].get("Message", "")
        if "does not exist" in message:
            region = cloudformation.meta.region_name
            raise SetupError(f"no CloudFormation stack named {stack_name} in {region}") from None
        raise SetupError(f"cannot read stack {stack_name}: {code} {message}".strip()) from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in (stacks[0].get("Outputs") or [])} if stacks else {}
    if not outputs.get(API_URL_OUTPUT):
        raise SetupError(f"stack {stack_name} has no {API_URL_OUTPUT} output: is it a labeltune stack?")
    return str(outputs[API_URL_OUTPUT])


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SetupError(f"not an http(s) URL: {url!r}")
    return url


def from_options(
    *,
    stack: str | None = None,
    api_url: str | None = None,
    local: bool = False,
    region: str | None = None,
    profile: str | None = None,
    session_factory: Callable[..., Any] | None = None,
) -> ApiClient:
    """The client the common options ask for: --local (its credentials and URL, overridable with --api-url),
    --api-url, or --stack (its ApiUrl output), signed with the user's AWS credentials."""
    if local:
        from botocore.credentials import Credentials

        if stack:
            raise SetupError("give --local or --stack, not both")
        credentials = Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY)
        return ApiClient(_check_url(api_url or LOCAL_API_URL), credentials, LOCAL_REGION, local=True)
    if stack and api_url:
        raise SetupError("give --stack or --api-url, not both")
    if not stack and not api_url:
        raise SetupError("say which API: --stack NAME (a deployed stack), --api-url URL, or --local")
    session = _session(profile, region, session_factory)
    region = region or (region_of_api(api_url) if api_url else None) or session.region_name
    if not region:
        raise SetupError("no AWS region: give --region, or set one in the AWS config or AWS_REGION")
    credentials = session.get_credentials()
    if credentials is None:
        raise SetupError("no AWS credentials found (aws configure, AWS_PROFILE or --profile): the API needs SigV4")
    if stack:
        api_url = api_url_from_stack(_cloudformation(session, region), stack)
    assert api_url is not None
    return ApiClient(_check_url(api_url), credentials, region)  # refreshable: frozen per request


def _session(profile: str | None, region: str | None, factory: Callable[..., Any] | None) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return (factory or boto3.Session)(profile_name=profile, region_name=region)
    except BotoCoreError as error:  # ProfileNotFound and the like: one line
        raise SetupError(str(error)) from None


def _cloudformation(session: Any, region: str) -> Any:
    from botocore.exceptions import BotoCoreError

    try:
        return session.client("cloudformation", region_name=region)
    except BotoCoreError as error:
        raise SetupError(str(error)) from None


# -- the options every API command takes ------------------------------------------------------------------


def add_options(parser: Any) -> None:
    """--stack/--api-url/--local/--region/--profile/--json on an argparse (sub)parser."""
    where = parser.add_argument_group("which API")
    where.add_argument("--stack", help="a deployed labeltune stack: its ApiUrl output (CloudFormation)")
    where.add_argument("--api-url", help=f"the API's base URL (with --local: instead of {LOCAL_API_URL})")
    where.add_argument(
        "--local", action="store_true", help="the local stack (`labeltune local up`), signed with its credentials"
    )
    where.add_argument("--region", help="AWS region of the stack and of the signature (default: the AWS config)")
    where.add_argument("--profile", help="AWS profile whose credentials sign the requests (default: boto3's chain)")
    parser.add_argument("--json", action="store_true", help="print exactly the API's JSON (for scripts)")


def from_args(args: Any) -> ApiClient:
    return from_options(
        stack=args.stack, api_url=args.api_url, local=args.local, region=args.region, profile=args.profile
    )
