"""ObjectStore on S3 (moto locally, the real bucket in the cloud)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


class S3ObjectStore:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        # SigV4 for presigned links too (botocore would sign them with SigV2 in us-east-1, which S3 is retiring).
        self._s3 = client or boto3.client("s3", config=Config(signature_version="s3v4"))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload_file(self, key: str, path: Path) -> str:
        # upload_file switches to multipart above 8 MB and streams from disk: memory stays bounded.
        self._s3.upload_file(str(path), self.bucket, key)
        return self.uri(key)

    def read_lines(self, key: str) -> Iterator[str]:
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for raw in body.iter_lines():
            # A line that is not UTF-8 keeps U+FFFD where bytes were lost; the converter rejects such a row
            # (reason code) instead of one bad line failing the whole run.
            yield raw.decode("utf-8", errors="replace")

    def put_json(self, key: str, value: Any) -> str:
        data = json.dumps(value, indent=2, sort_keys=True, default=str).encode()
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")
        return self.uri(key)

    def get_json(self, key: str) -> Any:
        return json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_text(self, key: str, text: str, content_type: str) -> str:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return self.uri(key)

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        # Signed locally with this function's credentials (no call to S3): the link works while they would.
        params = {"Bucket": self.bucket, "Key": key}
        return str(self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds))

    def find_json(self, key: str) -> Any | None:
        try:
            return self.get_json(key)
        except self._s3.exceptions.NoSuchKey:
            return None
