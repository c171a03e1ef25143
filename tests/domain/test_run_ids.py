"""Run ids double as Step Functions execution names: deterministic per delivery, always valid names."""

from __future__ import annotations

import hashlib
import re

import pytest

from labeltune.domain.run_ids import is_valid_run_id, new_manual_run_id, run_id_for_delivery

EXECUTION_NAME = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


def test_same_delivery_same_run_id() -> None:
    assert run_id_for_delivery("proj-1", "delivery-1") == run_id_for_delivery("proj-1", "delivery-1")


def test_run_id_is_pinned() -> None:
    # Changing the derivation would let a delivery repeated across a deploy start a second run.
    digest = hashlib.sha256(b"proj-1\ndelivery-1").hexdigest()[:24]
    assert run_id_for_delivery("proj-1", "delivery-1") == f"run-{digest}"


def test_different_deliveries_or_projects_give_different_run_ids() -> None:
    ids = {
        run_id_for_delivery("proj-1", "delivery-1"),
        run_id_for_delivery("proj-1", "delivery-2"),
        run_id_for_delivery("proj-2", "delivery-1"),
        # the separator keeps (project, delivery) pairs from running together
        run_id_for_delivery("proj-1d", "elivery-1"),
    }
    assert len(ids) == 4


@pytest.mark.parametrize(
    "project_id,delivery_id",
    [
        ("proj-1", "delivery-1"),
        ("clx 0/ü", "a" * 1000),
        ("", ""),
        ("proj:1", "c2a1b4e0-8f7a-4c1e-9d2a-0b6f8a1e2d3c"),
    ],
)
def test_delivery_run_ids_are_valid_execution_names(project_id: str, delivery_id: str) -> None:
    run_id = run_id_for_delivery(project_id, delivery_id)
    assert EXECUTION_NAME.match(run_id)
    assert is_valid_run_id(run_id)


def test_manual_run_with_key_is_idempotent() -> None:
    first = new_manual_run_id("proj-1", "key-1")
    assert new_manual_run_id("proj-1", "key-1") == first
    assert new_manual_run_id("proj-1", "key-2") != first
    assert new_manual_run_id("proj-2", "key-1") != first
    assert is_valid_run_id(first)


def test_manual_run_key_does_not_collide_with_a_delivery_of_the_same_id() -> None:
    assert new_manual_run_id("proj-1", "abc") != run_id_for_delivery("proj-1", "abc")


@pytest.mark.parametrize("key", [None, ""])
def test_manual_run_without_key_is_unique(key: str | None) -> None:
    ids = {new_manual_run_id("proj-1", key) for _ in range(100)}
    assert len(ids) == 100
    assert all(is_valid_run_id(run_id) and run_id.startswith("run-") for run_id in ids)


@pytest.mark.parametrize("value", ["run-abc", "a", "A_b-1", "x" * 80])
def test_valid_names(value: str) -> None:
    assert is_valid_run_id(value)


@pytest.mark.parametrize("value", ["", "x" * 81, "run abc", "run/abc", "run:abc", "rün", "run.abc", "run\n"])
def test_invalid_names(value: str) -> None:
    assert not is_valid_run_id(value)
