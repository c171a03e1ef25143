"""The credentials the local stack's API checks SigV4 signatures against, as API Gateway checks IAM ones.

They exist only on this machine's local stack (printed by `labeltune local up`); `labeltune ... --local` signs with
them. They are not AWS credentials and open nothing anywhere else.
"""

from __future__ import annotations

LOCAL_ACCESS_KEY_ID = "LOCALLABELTUNEOPERATOR"
LOCAL_SECRET_ACCESS_KEY = "local-stack-only-not-an-aws-secret"
LOCAL_REGION = "us-east-1"
SIGNING_SERVICE = "execute-api"  # what API Gateway's IAM authorisation expects requests to be signed for
