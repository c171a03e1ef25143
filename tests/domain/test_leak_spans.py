"""Where an output repeats its chat's PII (for the report's highlights): the same matching as the leak counts."""

from __future__ import annotations

import pytest

from labeltune.domain.pii import extract_pii, find_leaks, leak_spans

CHAT = """\
Maria Lopez-Garcia: order ORD-123456 never arrived. Mail Maria.Lopez@Example.com or call (415) 555-0132.
Tom Baker: Thanks Maria. Your account is ACC-12345?
"""
PII = extract_pii(CHAT)


def marked(output: str) -> list[tuple[str, str]]:
    return [(output[start:end], kind) for start, end, kind in leak_spans(output, PII)]


def test_each_kind_is_found_as_find_leaks_matches_it() -> None:
    output = "maria lopez-garcia (MARIA.LOPEZ@example.com, +1 415.555.0132) asked about order #123456 and acc-12345."
    assert marked(output) == [
        ("maria lopez-garcia", "name"),  # the full name: one mark, not one per part
        ("MARIA.LOPEZ@example.com", "email, name"),  # the address holds her name too
        ("1 415.555.0132", "phone"),  # digits: the "+" is not one
        ("123456", "order_id"),
        ("12345", "account_id"),  # an id is matched by its number
    ]


@pytest.mark.parametrize(
    "output",
    [
        "The customer's parcel is late; an agent will follow up.",
        "Tom and Maria spoke about ORD-123456.",
        "Call 555-0132 or 4155550132, or write to maria.lopez@example.com.",
        "Mariana said 1234567 items.",
    ],
)
def test_an_output_has_marks_exactly_where_it_leaks(output: str) -> None:
    counts = find_leaks(output, PII)
    kinds = {kind for _, joined in marked(output) for kind in joined.split(", ")}
    assert kinds == {kind for kind, count in counts.items() if count}


def test_overlapping_matches_are_one_mark_with_their_kinds_and_marks_are_in_order() -> None:
    assert leak_spans("Maria Lopez-Garcia, Maria", PII) == [(0, 18, "name"), (20, 25, "name")]
    assert marked("mail maria.lopez@example.com") == [("maria.lopez@example.com", "email, name")]


def test_nothing_to_find_finds_nothing() -> None:
    assert leak_spans("anything at all", {"name": set(), "phone": {"12"}}) == []
