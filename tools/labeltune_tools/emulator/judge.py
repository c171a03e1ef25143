"""The emulators' stand-in judge: a rule-based verdict on a judge prompt, deterministic and not a language model.

Both emulators (OpenAI chat completions, Bedrock Converse) answer a base model's judge prompt with it: a
user message that is exactly what `labeltune.domain.judge.judge_prompt` builds (its first line is
JUDGE_MARKER). Every other prompt gets the base model's usual answer. The rules, one per criterion:

- no_personal_data: the summary repeats none of the chat's PII (`labeltune.domain.pii`: speaker names and
  their parts, emails, phones, order and account ids), contains no email, phone, order or account id of
  its own, and no street address ("5538 Mill Drive").
- faithful: every number in the summary occurs in the chat ("10%" against a chat's "15%" is not), and
  at least FAITHFUL_WORD_SHARE of its content words (Porter-stemmed, less stop words and words any
  summary uses such as "customer" and "agent") occur in the chat.
- problem_and_resolution: at least MIN_COVERAGE_WORDS words, one of them an outcome word (refund,
  replace, cancel, reverse, unlock, ship, update, "unresolved", ...).
- two_or_three_sentences: 2 or 3 sentences, a sentence ending in ".", "!" or "?" followed by a space.

Crude on purpose: the point is a judge whose agreement with the human-labelled set can be measured
locally (`labeltune judge agreement`), not a good judge. It misses a paraphrased invention and a wrong
outcome that uses the chat's own words, which the measured agreement shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache

from labeltune.domain.judge import (
    FAITHFUL,
    JUDGE_MARKER,
    NO_PERSONAL_DATA,
    PROBLEM_AND_RESOLUTION,
    TWO_OR_THREE_SENTENCES,
)
from labeltune.domain.pii import ACCOUNT_ID, EMAIL, ORDER_ID, PHONE, extract_pii, find_leaks
from labeltune_tools.emulator.behaviour import base_model_reply

FAITHFUL_WORD_SHARE = 0.7
MIN_COVERAGE_WORDS = 8

_PROMPT = re.compile(
    re.escape(JUDGE_MARKER) + r"\n<chat>\n(?P<chat>.*)\n</chat>\n<summary>\n(?P<summary>.*)\n</summary>", re.DOTALL
)
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[a-z]+")
_STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St|Drive|Dr|Road|Rd|Avenue|Ave|Lane|Ln|Way|Court|Ct|Boulevard|Blvd|Place|Pl|Terrace)\b"
)
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into",
    "about", "after", "before", "as", "is", "was", "were", "be", "been", "being", "are", "has", "had", "have",
    "it", "its", "this", "that", "which", "who", "whom", "what", "when", "then", "than", "there", "their",
    "they", "them", "he", "she", "his", "her", "him", "i", "you", "your", "we", "our", "not", "no", "one",
    "any", "all", "also", "could", "would", "should", "will", "can", "did", "do", "does", "if", "once",
    "because", "while", "still", "yet", "up", "out", "over", "within", "without", "s", "t",
})
# Words a summary uses about any chat (compared stemmed): not evidence of invention when the chat lacks them.
_SUMMARY_WORDS = frozenset({
    "customer", "agent", "support", "order", "item", "asked", "requested", "reported", "contacted", "wanted",
    "needed", "confirmed", "said", "explained", "problem", "issue", "chat", "summary", "resolved", "received",
    "checked", "noted", "arrived", "instead", "later", "earlier", "first",
})
_OUTCOME_STEMS = frozenset({
    "refund", "replac", "replacement", "cancel", "revers", "unlock", "reset", "ship", "sent", "send",
    "issu", "arrang", "updat", "chang", "exchang", "file", "fix", "resolv", "unresolv", "credit", "escal",
    "deliv", "restor", "regain", "remov", "delet", "close",
})
# fmt: on


def stand_in_verdict(user_text: str) -> str | None:
    """The stand-in judge's JSON verdict when `user_text` is a judge prompt, else None."""
    match = _PROMPT.fullmatch(user_text.strip())
    if match is None:
        return None
    chat, summary = match.group("chat"), match.group("summary")
    return json.dumps(
        {
            NO_PERSONAL_DATA: not _has_personal_data(chat, summary),
            FAITHFUL: _faithful(chat, summary),
            PROBLEM_AND_RESOLUTION: _covers_outcome(summary),
            TWO_OR_THREE_SENTENCES: 2 <= count_sentences(summary) <= 3,
        }
    )


def base_reply(user_text: str) -> str:
    """What a base model answers: the stand-in judge's verdict to a judge prompt, else the naive summary."""
    verdict = stand_in_verdict(user_text)
    return verdict if verdict is not None else base_model_reply(user_text)


def count_sentences(text: str) -> int:
    """Sentences as the stand-in counts them: runs of text ended by ".", "!" or "?" and a space (or the end);
    a trailing fragment without one counts too. "$79.95" does not end a sentence."""
    stripped = text.strip()
    if not stripped:
        return 0
    ends = list(_SENTENCE_END.finditer(stripped))
    trailing = not ends or ends[-1].end() < len(stripped)
    return len(ends) + trailing


def _has_personal_data(chat: str, summary: str) -> bool:
    if any(find_leaks(summary, extract_pii(chat)).values()):
        return True
    own = extract_pii(summary)
    return any(own[kind] for kind in (EMAIL, PHONE, ORDER_ID, ACCOUNT_ID)) or bool(_STREET.search(summary))


def _faithful(chat: str, summary: str) -> bool:
    if not set(_NUMBER.findall(summary)) <= set(_NUMBER.findall(chat)):
        return False
    chat_stems = {_stem(word) for word in _WORD.findall(chat.lower())}
    content = [_stem(word) for word in _WORD.findall(summary.lower()) if word not in _STOP_WORDS]
    content = [stem for stem in content if stem not in _summary_stems()]
    if not content:
        return True
    supported = sum(stem in chat_stems for stem in content)
    return supported / len(content) >= FAITHFUL_WORD_SHARE


def _covers_outcome(summary: str) -> bool:
    words = _WORD.findall(summary.lower())
    return len(words) >= MIN_COVERAGE_WORDS and any(_stem(word) in _OUTCOME_STEMS for word in words)


@cache
def _summary_stems() -> frozenset[str]:
    return frozenset(_stem(word) for word in _SUMMARY_WORDS)


@cache
def _stem(word: str) -> str:
    return _stemmer()(word)


@cache
def _stemmer() -> Callable[[str], str]:
    from nltk.stem.porter import PorterStemmer  # the stemmer labeltune's ROUGE-L uses

    stem: Callable[[str], str] = PorterStemmer().stem
    return stem
