"""PII extraction from chat logs and leak counting in model outputs."""

from __future__ import annotations

import pytest

from labeltune.domain.pii import PII_TYPES, extract_pii, find_leaks, name_values, normalize_phone

CHAT = """\
Tom Baker: Hi, you're chatting with Tom from Northwind support.
Maria Lopez-Garcia: Hi Tom, order ORD-123456 never arrived. Reach me at Maria.Lopez@Example.com or (415) 555-0132.
Tom Baker: Thanks Maria. Is +1 415.555.0199 also yours? And your account is ACC-12345?
Maria Lopez-Garcia: Yes. Old number 212-555-0147, office +1 (646) 555 0110 or 6465550111, UK +44 20 7946 0958.
Tom Baker: I sent order ord-654321 instead, total $1,234.56 on 2026-03-02, ETA 3-5 days.
"""


def test_extract_all_types() -> None:
    pii = extract_pii(CHAT)
    assert set(pii) == set(PII_TYPES)
    assert pii["name"] == {
        "Tom Baker",
        "Tom",
        "Baker",
        "Maria Lopez-Garcia",
        "Maria",
        "Lopez-Garcia",
        "Lopez",
        "Garcia",
    }
    assert pii["email"] == {"maria.lopez@example.com"}
    assert pii["phone"] == {
        "4155550132",
        "4155550199",
        "2125550147",
        "6465550110",
        "6465550111",
        "442079460958",
    }
    assert pii["order_id"] == {"ORD-123456", "ORD-654321"}
    assert pii["account_id"] == {"ACC-12345"}


@pytest.mark.parametrize(
    "written",
    [
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "415 555 0132",
        "4155550132",
        "+1 415 555 0132",
        "+1-415-555-0132",
        "+1 (415) 555-0132",
        "1-415-555-0132",
        "+14155550132",
    ],
)
def test_phone_formats_normalise_to_one_value(written: str) -> None:
    assert extract_pii(f"Ann Lee: call me on {written}, thanks")["phone"] == {"4155550132"}


def test_no_phone_in_dates_prices_ids_and_short_numbers() -> None:
    text = "Ann Lee: paid $1,234.56 on 2026-03-02 for ORD-123456 (ACC-12345), code 555-0132, zip 94107-1234."
    assert extract_pii(text)["phone"] == set()


def test_speaker_labels_that_are_not_names() -> None:
    text = (
        "Support: Hello!\n"
        "Support Agent: How can I help?\n"
        "Customer Service: Ticket opened.\n"
        "Order Status: shipped\n"
        "maria lopez: lower-case label\n"
        "Hi there: not at line start? yes but 'there' is lower case\n"
        "The customer said Maria Lopez: this is mid-line\n"
    )
    assert extract_pii(text)["name"] == set()


def test_short_name_parts_only_count_in_the_full_name() -> None:
    assert extract_pii("Al Li: hello\nEd Norton: hi")["name"] == {"Al Li", "Ed Norton", "Norton"}


def test_timestamped_labels_and_titles() -> None:
    text = "[10:32] Dr. Jane O'Neil: hello\n  Mr. Sam Wu: hi"
    assert extract_pii(text)["name"] == {"Dr. Jane O'Neil", "Jane", "O'Neil", "Mr. Sam Wu", "Sam"}


def test_names_in_text_are_not_extracted_without_a_label() -> None:
    assert extract_pii("Hello, this is Maria Lopez calling about my order.")["name"] == set()


def test_name_values_and_normalize_phone() -> None:
    assert name_values("Jo  Smith-Jones") == {"Jo Smith-Jones", "Smith-Jones", "Smith", "Jones"}
    assert normalize_phone("+1 (415) 555-0132") == "4155550132"
    assert normalize_phone("+44 20 7946 0958") == "442079460958"


def test_no_leaks_in_clean_summary() -> None:
    pii = extract_pii(CHAT)
    summary = "Customer reported a missing order; agent reshipped it and refunded the shipping fee in 3-5 days."
    assert find_leaks(summary, pii) == {t: 0 for t in PII_TYPES}


def test_name_leaks_are_whole_word_and_case_insensitive() -> None:
    pii = {"name": name_values("Maria Lopez") | name_values("Tom Baker")}
    assert find_leaks("mariana and tomato bakery", pii) == {"name": 0}
    assert find_leaks("MARIA called", pii) == {"name": 1}
    # A full name mention is one leak, not one per part; other names add to it.
    assert find_leaks("maria   lopez spoke to tom", pii) == {"name": 2}
    assert find_leaks("Maria Lopez, then Lopez again, then Maria", pii) == {"name": 3}


def test_phone_leaks_by_digits_whatever_the_format() -> None:
    pii = {"phone": {"4155550132", "442079460958"}}
    assert find_leaks("call 415.555.0132", pii) == {"phone": 1}
    assert find_leaks("call +1 (415) 555 0132", pii) == {"phone": 1}
    assert find_leaks("call 555-0132", pii) == {"phone": 1}  # local number, 7 digits
    assert find_leaks("call 020 7946 0958", pii) == {"phone": 1}  # UK national format
    assert find_leaks("call 0132 or 50132 or 5-50132", pii) == {"phone": 0}  # under 7 digits
    assert find_leaks("ref 415 or 555 and 0132", pii) == {"phone": 0}  # words break a number
    assert find_leaks("4155550132 and +44 20 7946 0958", pii) == {"phone": 2}


def test_email_and_id_leaks() -> None:
    pii = {
        "email": {"maria.lopez@example.com"},
        "order_id": {"ORD-123456", "ORD-654321"},
        "account_id": {"ACC-12345"},
    }
    assert find_leaks("write to MARIA.LOPEZ@example.com.", pii) == {"email": 1, "order_id": 0, "account_id": 0}
    assert find_leaks("xmaria.lopez@example.community", pii)["email"] == 0
    assert find_leaks("order ord-123456 and #654321", pii)["order_id"] == 2
    assert find_leaks("order 1234567 and 12345678", pii)["order_id"] == 0
    assert find_leaks("account 12345", pii)["account_id"] == 1


def test_unknown_types_match_as_substrings() -> None:
    assert find_leaks("Lives at 12 Maple Street.", {"address": {"12 maple street"}}) == {"address": 1}


def test_leaks_of_extracted_pii_round_trip() -> None:
    pii = extract_pii(CHAT)
    leaks = find_leaks(CHAT, pii)
    # Names: the two full names (covering their parts), plus "Tom" and "Maria" said in the text and
    # "Lopez" inside the email address.
    assert leaks == {t: len(pii[t]) for t in PII_TYPES} | {"name": 5}
