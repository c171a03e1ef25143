"""Deduplication in bounded memory: a digest per example and per data row, never the text.

Two examples are the same when their messages are equal once whitespace and case are normalised away:
every whitespace character is removed (spaces, tabs, line breaks, and Unicode spaces such as U+00A0) and
the text is Unicode case-folded. So texts that differ only in spacing, line breaks or letter case are one
example. (Removing whitespace rather than collapsing runs of it to one space is the stricter normalisation:
it also merges texts that differ only where a space is, and it is a single C pass over ASCII text.)

Deduplication runs before the split and keeps the first occurrence in export order: a later copy is
dropped wherever its own data row would have been split to, so a validation or eval example can never
repeat a training one.

Memory: one 128-bit digest (truncated SHA-256) per kept example and one 64-bit hash per data row id (about 100 and
70 bytes each in CPython sets). A 128-bit collision, the only way two different examples could be taken
for one, is not a practical concern (p < 1e-20 at a billion examples); a 64-bit collision of data row
ids would wrongly drop one row with p ~ n^2 / 2^65 (3e-8 at a million rows).
"""

from __future__ import annotations

import hashlib

_SEPARATOR = b"\x00"  # never inside a text: control characters are rejected before deduplication
# For ASCII text: the characters str.split() treats as whitespace, and an upper -> lower case table.
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_ASCII_LOWER = bytes.maketrans(bytes(range(ord("A"), ord("Z") + 1)), bytes(range(ord("a"), ord("z") + 1)))


def normalise(text: str) -> bytes:
    """The text with all whitespace removed and Unicode case-folded, as UTF-8."""
    if text.isascii():  # one translate pass does both (casefold() of ASCII is lower())
        return text.encode("ascii").translate(_ASCII_LOWER, _ASCII_WHITESPACE)
    return "".join(text.casefold().split()).encode("utf-8")


class Deduplicator:
    """Remembers the examples and data rows of one build.

    Only what differs between examples is hashed: the system prompt is the same for every example of a
    build, so it cannot make two of them differ.
    """

    def __init__(self) -> None:
        self._examples: set[bytes] = set()
        self._rows: set[int] = set()

    @staticmethod
    def example_digest(*texts: str) -> bytes:
        # SHA-256 (hardware-accelerated where the CPU has SHA extensions, the fastest hashlib digest on
        # x86-64 and arm64 servers) truncated to 128 bits.
        return hashlib.sha256(_SEPARATOR.join([normalise(text) for text in texts])).digest()[:16]

    def seen_example(self, *texts: str) -> bool:
        """True when an equal example was seen before; otherwise remember this one and return False."""
        key = self.example_digest(*texts)
        if key in self._examples:
            return True
        self._examples.add(key)
        return False

    def seen_data_row(self, data_row_id: str) -> bool:
        """True when this data row id was seen before; otherwise remember it and return False."""
        key = hash(data_row_id)  # 64-bit SipHash, salted per process: fine for a set that lives one build
        if key in self._rows:
            return True
        self._rows.add(key)
        return False

    @property
    def examples(self) -> int:
        return len(self._examples)
