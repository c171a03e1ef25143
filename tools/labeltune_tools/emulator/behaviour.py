"""What the emulated models answer: deterministic, and honest about being an emulation.

Neither behaviour is a language model. They exist so the pipeline's evaluation has something
measurable to compare:

- A base model writes a naive summary of a chat transcript that repeats the PII in it (speaker
  names, emails, phone numbers, order ids): the failure the fine-tune is meant to fix.
- A fine-tuned model answers with the assistant message of its most similar training example
  (cosine similarity of word-count vectors over the user message; ties go to the earliest
  example). It knows exactly the examples its training file held and nothing else, so it scores
  well on near-duplicates of its training data and poorly on anything new.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from labeltune_tools.emulator.training import Example

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
ORDER_ID = re.compile(r"\bORD-\d{3,}\b|#\d{4,}\b", re.IGNORECASE)
# North-American forms Faker produces ("(555)123-4567x89", "+1-555-123-4567", "555.123.4567",
# "001-555-123-4567") and loosely spaced international numbers ("+44 20 7946 0958").
PHONE = re.compile(
    r"(?:(?<![\w+])(?:\+?\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?"
    r"|\+\d{1,3}(?:[\s-]?\d{2,4}){2,5})(?!\d)"
)
# A transcript line: "Full Name: what they said" (the name is one or more capitalised words).
SPEAKER_LINE = re.compile(r"^\s*([A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){0,4})[ \t]*:[ \t]*(\S.*)$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"\w+", re.UNICODE)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values))


def _first_sentence(text: str) -> str:
    sentence = SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def base_model_reply(user_text: str) -> str:
    """A naive summary that leaks the transcript's PII (see module docstring)."""
    turns = [(m.group(1).strip(), m.group(2).strip()) for m in map(SPEAKER_LINE.match, user_text.splitlines()) if m]
    if not turns:
        return f"Summary: {_first_sentence(user_text)}" if user_text.strip() else "Summary: (empty message)."
    emails = _unique(EMAIL.findall(user_text))
    orders = _unique(ORDER_ID.findall(user_text))
    # Order ids and emails are removed first so their digits are not mistaken for phone numbers.
    scrubbed = EMAIL.sub(" ", ORDER_ID.sub(" ", user_text))
    phones = _unique(PHONE.findall(scrubbed))
    customer, first_message = turns[0]
    contacts = [f"email {', '.join(emails)}"] if emails else []
    contacts += [f"phone {', '.join(phones)}"] if phones else []
    summary = f"Summary: {customer} contacted support"
    if contacts:
        summary += f" ({', '.join(contacts)})"
    summary += f" about order {', '.join(orders)}." if orders else " about their request."
    summary += f" {_first_sentence(first_message)}"
    others = [name for name in _unique([name for name, _ in turns]) if name != customer]
    if others:
        summary += f" They spoke with {', '.join(others)}."
    return summary


def _vector(text: str) -> Counter[str]:
    return Counter(word.lower() for word in WORD.findall(text))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items() if word in b)
    return dot / (math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values())))


class NearestExampleModel:
    """A "fine-tuned model" that replays the answer of its closest training example."""

    def __init__(self, examples: Sequence[Example]) -> None:
        if not examples:
            raise ValueError("a fine-tuned model needs at least one training example")
        self._examples = tuple(examples)
        self._vectors = [_vector(example.user) for example in self._examples]

    def reply(self, user_text: str) -> str:
        query = _vector(user_text)
        best_index, best_score = 0, -1.0
        for index, vector in enumerate(self._vectors):
            score = _cosine(query, vector)
            if score > best_score:  # strict: ties keep the earliest example
                best_index, best_score = index, score
        return self._examples[best_index].assistant
