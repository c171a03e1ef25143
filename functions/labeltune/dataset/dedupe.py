"""Deduplication in bounded memory: a digest per kept example and a hash per data row, never the text.

Two texts are the same when they are equal once whitespace and case are normalised away: every whitespace
character is removed (spaces, tabs, line breaks, and Unicode spaces such as U+00A0) and the text is
Unicode case-folded. So texts that differ only in spacing, line breaks or letter case are one text.
(Removing whitespace rather than collapsing runs of it to one space is the stricter normalisation: it also
merges texts that differ only where a space is, and over ASCII text it is a few C passes.)

The normal form is `labeltune.domain.conversion.normalise` (exported here too): conversion finds it in its
text hygiene step, once the text is known to be clean, and hands it over with the example's fields.

One prompt, one example. A row whose normalised prompt (the chat) was already kept is rejected, whatever
its response: `duplicate_example` when the response is the same too (a re-exported row), `duplicate_prompt`
when it differs (the same chat labelled twice, under two data rows). The split is a pure function of the
data row's identity, so keeping two rows of one chat could put that chat in train.jsonl and eval.jsonl, or
in train.jsonl and validation.jsonl, which OpenAI forbids. Deduplication runs before the split, and the
first row in export order that passes every check is kept: which of two copies survives depends on the
export's order, never on where its data row would have been split to.

Memory per kept example: a 128-bit prompt digest (truncated SHA-256, a 16-byte bytes object) mapped to a
64-bit fingerprint of the response, about 150 bytes in a CPython dict; per data row, a 64-bit hash of its
id in a set (about 70 bytes). A 128-bit collision, the only way two different prompts could be taken for
one, is not a practical concern (p < 1e-20 at a billion examples). The response fingerprint and the data
row hash are the interpreter's own 64-bit hash (SipHash, salted per process: fine for tables that live one
build). A response collision could only name a duplicate_prompt row duplicate_example (it is rejected
either way); a collision of data row ids would wrongly drop one row with p ~ n^2 / 2^65 (3e-8 at a
million rows).
"""

from __future__ import annotations

import hashlib

from labeltune.domain.conversion import Reason, normalise

__all__ = ["Deduplicator", "normalise"]

_sha256 = hashlib.sha256  # SHA-256: hardware-accelerated (SHA extensions) on x86-64 and arm64 servers


class Deduplicator:
    """Remembers the data rows and the kept examples of one build.

    Only what differs between examples is hashed: the system prompt is the same for every example of a
    build, so it cannot make two of them differ.
    """

    def __init__(self) -> None:
        self._prompts: dict[bytes, int] = {}  # prompt digest -> response fingerprint, of kept examples
        self._rows: set[int] = set()

    def check(
        self, data_row_id: str, prompt_normal: bytes, response_normal: bytes
    ) -> tuple[str | None, tuple[bytes, int]]:
        """(the reason code if the row is a duplicate, else None; the example's keys for `keep`), from the
        normal forms (`normalise`) of the example's prompt and response.

        The data row is remembered now (a data row is read once, whatever happens to it); the prompt only
        by `keep`, once the example has passed every check, so a row rejected later claims no prompt."""
        row_key = hash(data_row_id)  # 64-bit SipHash, salted per process: fine for a set that lives one build
        if row_key in self._rows:
            return Reason.DUPLICATE_DATA_ROW, (b"", 0)
        self._rows.add(row_key)
        prompt_key = _sha256(prompt_normal).digest()[:16]
        keys = (prompt_key, hash(response_normal))
        kept = self._prompts.get(prompt_key)
        if kept is None:
            return None, keys
        return (Reason.DUPLICATE_EXAMPLE if kept == keys[1] else Reason.DUPLICATE_PROMPT), keys

    def keep(self, keys: tuple[bytes, int]) -> None:
        """Remember a kept example's prompt (and response)."""
        self._prompts[keys[0]] = keys[1]

    def release(self) -> None:
        """Forget everything (the memory goes back before the build's report is made)."""
        self._prompts, self._rows = {}, set()

    @property
    def examples(self) -> int:
        """How many examples were kept."""
        return len(self._prompts)
