"""ObjectStore on S3 (moto locally, the real bucket in the cloud)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3


class S3ObjectStore:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")

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
