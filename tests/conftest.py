"""Shared test setup: offline token counting, no real AWS credentials or endpoints, and a movable clock.

`pytest --clock-offset-days N` runs the whole suite with the wall clock moved N days ahead (time-machine,
ticking), the way `make test` runs it a second time a year ahead: a test that passes only near the day it
was written fails there. Code under test never reads the clock directly where a test fixes a time: it is
passed a clock.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _key in ("AWS_PROFILE", "OPENAI_API_KEY", "LABELBOX_API_KEY", "TIKTOKEN_CACHE_DIR"):
    os.environ.pop(_key, None)  # the bundled o200k_base encoding is used, as in Lambda

_TRAVELLER: Any = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-offset-days",
        type=int,
        default=0,
        help="run every test with the wall clock moved this many days ahead (time-machine)",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _TRAVELLER
    days = config.getoption("--clock-offset-days")
    if days:
        import time_machine

        _TRAVELLER = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        _TRAVELLER.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _TRAVELLER
    if _TRAVELLER is not None:
        _TRAVELLER.stop()
        _TRAVELLER = None


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--clock-offset-days")
    return f"clock moved {days} days ahead: now is {datetime.now(UTC).isoformat()}" if days else None


# Each test directory is one tier (`make unit`, `make integration`, `make e2e`): the pure core and the handlers
# run in seconds; adapters on moto, the emulators, the template and the CLI's servers take minutes together;
# end-to-end runs the real state machine on the embedded stack.
_TIERS = {
    "domain": "unit",
    "dataset": "unit",
    "pipeline": "unit",
    "catalog": "unit",
    "report": "unit",
    "handlers": "unit",
    "test_examples.py": "unit",
    "test_docs.py": "unit",
    "adapters": "integration",
    "emulator": "integration",
    "bedrock_emulator": "integration",
    "infra": "integration",
    "cli": "integration",
    "e2e": "e2e",
}
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        top = Path(item.path).resolve().relative_to(_TESTS).parts[0]
        tier = _TIERS.get(top)
        if tier is None:
            raise pytest.UsageError(f"tests/{top} belongs to no tier: add it to _TIERS in tests/conftest.py")
        item.add_marker(tier)
