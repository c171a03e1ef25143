"""Personal data in a support chat, and whether a model's output repeats it.

The task the model is tuned for is "summarise and remove PII", so the headline evaluation metric is
the leak rate: the share of outputs that repeat at least one PII value of their source. That needs the
PII of each source chat, which we take from the chat itself (no NER model, no network, cheap enough for
a Lambda): speaker names from the "Full Name:" labels, emails, phone numbers, order and account ids.

Pure functions: no AWS, no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

NAME = "name"
EMAIL = "email"
PHONE = "phone"
ORDER_ID = "order_id"
ACCOUNT_ID = "account_id"
PII_TYPES: tuple[str, ...] = (NAME, EMAIL, PHONE, ORDER_ID, ACCOUNT_ID)

MIN_NAME_PART = 3
"""Shorter name parts ("Al", "Li") are too likely to be ordinary words to search for on their own."""

MIN_PHONE_DIGITS = 7
"""Fewer digits than a local number match dates, prices and ids: not evidence of a leaked phone."""

_LETTER = r"[^\W\d_]"
_TOKEN = rf"{_LETTER}(?:{_LETTER}|['\u2019.\-])*"  # O'Neil (either apostrophe), Smith-Jones, St.
# A speaker label at the start of a line, optionally after a "[10:32]" style timestamp.
_SPEAKER = re.compile(
    rf"^[ \t]*(?:\[[^\]\n]{{1,32}}\][ \t]*)?(?P<label>{_TOKEN}(?:[ \t]+{_TOKEN}){{1,4}})[ \t]*:", re.MULTILINE
)
_NAME_TOKEN = re.compile(_TOKEN)
# Labels made of role or form-field words are not people ("Support Agent:", "Order Status:").
# fmt: off
_NOT_NAME_WORDS = frozenset({
    "support", "agent", "agents", "customer", "customers", "client", "bot", "chat", "chatbot", "live",
    "system", "assistant", "user", "team", "service", "services", "admin", "administrator", "moderator",
    "help", "helpdesk", "desk", "operator", "representative", "rep", "staff", "auto", "automated", "order",
    "orders", "status", "account", "email", "phone", "subject", "date", "time", "note", "notes", "ticket",
    "reference", "total", "item", "items", "address", "shipping", "billing", "payment", "tracking",
    "internal", "message", "reply", "re", "fw", "fwd", "from", "to", "cc", "the", "and"
})
# fmt: on
_NAME_EDGE_PUNCTUATION = ".'\u2019"
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam"})

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# North American numbers: +1 / 1 prefix, (415) or 415, separated by space, dot or dash, or not at all.
_PHONE_NANP = re.compile(
    r"(?<![\w+])(?<![A-Za-z]-)(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?![\d])"
)
# Other countries' numbers must carry their +code (not 1, which is North America), so plain digit runs
# are never taken for them.
_PHONE_INTL = re.compile(r"(?<![\w+])\+(?!1)\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)")
_ORDER_ID = re.compile(r"(?<![A-Za-z0-9])ORD-\d{6}(?!\d)", re.IGNORECASE)
_ACCOUNT_ID = re.compile(r"(?<![A-Za-z0-9])ACC-\d{5}(?!\d)", re.IGNORECASE)

_DIGIT_GROUP = re.compile(r"\d+")
# What may sit between the digit groups of one written phone number: "(415) 555-0132", "+1 415.555.0132".
_PHONE_JOINER = re.compile(r"[ \t().+\-/]{1,3}")
_MAX_PHONE_DIGITS = 15


def extract_pii(transcript: str) -> dict[str, set[str]]:
    """The PII values of a chat log, by type (always all of PII_TYPES, possibly empty).

    Names come only from speaker labels ("Maria Lopez: ...") with at least two capitalised words that
    are not role words: the full name and each part of >= MIN_NAME_PART characters, so a later
    "Thanks, Maria" in an output is still caught. Emails are lower-cased; phones are reduced to digits
    (a leading North American "1" dropped, so "+1 415 555 0132" and "(415) 555-0132" are one value);
    ids are upper-cased.
    """
    return {
        NAME: _speaker_names(transcript),
        EMAIL: {m.group().lower() for m in _EMAIL.finditer(transcript)},
        PHONE: _phones(transcript),
        ORDER_ID: {m.group().upper() for m in _ORDER_ID.finditer(transcript)},
        ACCOUNT_ID: {m.group().upper() for m in _ACCOUNT_ID.finditer(transcript)},
    }


def find_leaks(output: str, pii: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Per PII type, how many distinct values of `pii` the output repeats (0 for clean types).

    Matching is deliberately forgiving of formatting, because a leak rewritten is still a leak:
    case-insensitive everywhere; names as whole words, a full-name mention counting once (not once more
    per part); phones by their digits, whatever the separators, including a local number of at least
    MIN_PHONE_DIGITS digits; order/account ids also by their number alone ("order #123456").
    Unknown types are matched as case-insensitive substrings.
    """
    leaks: dict[str, int] = {}
    for kind, values in pii.items():
        values = {v for v in values if v and v.strip()}
        if kind == NAME:
            leaks[kind] = _count_names(output, values)
        elif kind == PHONE:
            leaks[kind] = _count_phones(output, values)
        elif kind == EMAIL:
            leaks[kind] = sum(1 for v in values if _email_pattern(v).search(output))
        elif kind in (ORDER_ID, ACCOUNT_ID):
            leaks[kind] = sum(1 for v in values if _id_pattern(v).search(output))
        else:
            lowered = output.lower()
            leaks[kind] = sum(1 for v in values if v.lower() in lowered)
    return leaks


def name_values(full_name: str) -> set[str]:
    """The name values one person contributes: the full name and its parts long enough to search for.

    A hyphenated part counts whole and by its pieces ("Smith-Jones", "Smith", "Jones"); titles do not.
    """
    full = " ".join(full_name.split())
    values = {full}
    for word in full.split():
        for part in {word, *word.split("-")}:
            part = part.strip(_NAME_EDGE_PUNCTUATION + "-")
            if len(part) >= MIN_NAME_PART and part.lower() not in _TITLES:
                values.add(part)
    return values


def normalize_phone(phone: str) -> str:
    """Digits only, without the North American country code, so one number has one value."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def _speaker_names(transcript: str) -> set[str]:
    names: set[str] = set()
    for match in _SPEAKER.finditer(transcript):
        tokens = _NAME_TOKEN.findall(match.group("label"))
        if len(tokens) < 2 or not all(t[0].isupper() for t in tokens):
            continue
        if any(t.lower().strip(_NAME_EDGE_PUNCTUATION) in _NOT_NAME_WORDS for t in tokens):
            continue
        names |= name_values(" ".join(tokens))
    return names


def _phones(transcript: str) -> set[str]:
    # International first, blanked out, so "+44 207 946 0958" is not also read as a US number.
    found: set[str] = set()
    masked = transcript
    for match in _PHONE_INTL.finditer(transcript):
        digits = normalize_phone(match.group())
        if 8 <= len(digits) <= _MAX_PHONE_DIGITS:
            found.add(digits)
            masked = masked[: match.start()] + " " * (match.end() - match.start()) + masked[match.end() :]
    found.update(normalize_phone(match.group()) for match in _PHONE_NANP.finditer(masked))
    return found


def _count_names(output: str, names: set[str]) -> int:
    # Longest first, and blank out what matched, so "Maria Lopez" is one leak rather than three.
    text = output
    count = 0
    for name in sorted(names, key=lambda n: (-len(n), n.lower())):
        spans = [m.span() for m in _name_pattern(name).finditer(text)]
        if not spans:
            continue
        count += 1
        for start, end in spans:
            text = text[:start] + " " * (end - start) + text[end:]
    return count


def _count_phones(output: str, phones: set[str]) -> int:
    targets = {normalize_phone(p) for p in phones}
    targets = {t for t in targets if len(t) >= MIN_PHONE_DIGITS}
    if not targets:
        return 0
    windows = _digit_windows(output)
    return sum(1 for t in targets if any(w == t or t.endswith(w) or w.endswith(t) for w in windows))


def _digit_windows(text: str) -> set[str]:
    """Every run of consecutive digit groups that could be one written number, as digits (>= 7 of them)."""
    runs: list[list[str]] = []
    previous_end: int | None = None
    for match in _DIGIT_GROUP.finditer(text):
        joined = previous_end is not None and _PHONE_JOINER.fullmatch(text[previous_end : match.start()])
        if joined and runs:
            runs[-1].append(match.group())
        else:
            runs.append([match.group()])
        previous_end = match.end()
    windows: set[str] = set()
    for run in runs:
        for i in range(len(run)):
            digits = ""
            for group in run[i:]:
                digits += group
                if len(digits) > _MAX_PHONE_DIGITS + 1:
                    break
                if len(digits) >= MIN_PHONE_DIGITS:
                    windows.add(digits)
    return windows


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    tokens = name.split()
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(t) for t in tokens) + r"(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _email_pattern(email: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.%+-])" + re.escape(email) + r"(?![\w-])", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _id_pattern(value: str) -> re.Pattern[str]:
    number = "".join(ch for ch in value if ch.isdigit())
    if not number:
        return re.compile(re.escape(value), re.IGNORECASE)
    return re.compile(r"(?<!\d)" + number + r"(?!\d)")


def leak_spans(output: str, pii: Mapping[str, Iterable[str]]) -> list[tuple[int, int, str]]:
    """Where the values `find_leaks` counts appear in `output`: sorted, non-overlapping (start, end, pii types).

    The same matching as find_leaks (a name as a whole word, a phone by its digits, an id by its number), so
    a report highlights exactly what the leak counts measured; overlapping matches are merged into one span
    whose types are joined ("email, name" for a name inside an address)."""
    found: list[tuple[int, int, str]] = []
    for kind, values in pii.items():
        values = {v for v in values if v and v.strip()}
        if kind == PHONE:
            found += [(start, end, kind) for start, end in _phone_spans(output, values)]
            continue
        for value in values:
            if kind == NAME:
                pattern = _name_pattern(value)
            elif kind == EMAIL:
                pattern = _email_pattern(value)
            elif kind in (ORDER_ID, ACCOUNT_ID):
                pattern = _id_pattern(value)
            else:
                pattern = re.compile(re.escape(value), re.IGNORECASE)
            found += [(m.start(), m.end(), kind) for m in pattern.finditer(output) if m.end() > m.start()]
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(found, key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1][1]:
            first_start, first_end, kinds = merged[-1]
            joined = ", ".join(sorted({*kinds.split(", "), kind}))
            merged[-1] = (first_start, max(first_end, end), joined)
        else:
            merged.append((start, end, kind))
    return merged


def _phone_spans(text: str, phones: set[str]) -> list[tuple[int, int]]:
    """The spans of the digit runs `_count_phones` counts as one of `phones` (see `_digit_windows`)."""
    targets = {t for t in (normalize_phone(p) for p in phones) if len(t) >= MIN_PHONE_DIGITS}
    if not targets:
        return []
    runs: list[list[re.Match[str]]] = []
    previous_end: int | None = None
    for match in _DIGIT_GROUP.finditer(text):
        joined = previous_end is not None and _PHONE_JOINER.fullmatch(text[previous_end : match.start()])
        if joined and runs:
            runs[-1].append(match)
        else:
            runs.append([match])
        previous_end = match.end()
    spans: list[tuple[int, int]] = []
    for run in runs:
        for i in range(len(run)):
            digits = ""
            for group in run[i:]:
                digits += group.group()
                if len(digits) > _MAX_PHONE_DIGITS + 1:
                    break
                if len(digits) >= MIN_PHONE_DIGITS and any(
                    digits == t or t.endswith(digits) or digits.endswith(t) for t in targets
                ):
                    spans.append((run[i].start(), group.end()))
    return spans
