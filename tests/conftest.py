"""Shared test setup: offline token counting and no real AWS credentials or endpoints."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("LABELTUNE_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _key in ("AWS_PROFILE", "OPENAI_API_KEY", "LABELBOX_API_KEY"):
    os.environ.pop(_key, None)
