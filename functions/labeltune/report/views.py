"""What the report shows of one held-out example: the chat, the human summary, and each model's answer with its
scores. Plain frozen values, built by the pipeline from the evaluation's files (or by a test by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutputView:
    """One model's answer to one example, as the evaluation scored it (examples.jsonl, one line)."""

    model: str
    output: str | None
    rouge_l: float
    leaks: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def leak_count(self) -> int:
        """Distinct PII values the answer repeats (0 for an unanswered example: it says nothing about leaking)."""
        return 0 if self.error is not None else sum(count for count in self.leaks.values() if count > 0)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OutputView:
        """A line of examples.jsonl ({"role", "output", "data_row_id", "model", "rouge_l", "leaks", "error"})."""
        leaks = record.get("leaks") or {}
        if not isinstance(leaks, Mapping):
            raise ValueError("an evaluation record's leaks must be an object of counts")
        output = record.get("output")
        return cls(
            model=str(record.get("model") or ""),
            output=None if output is None else str(output),
            rouge_l=float(record.get("rouge_l") or 0.0),
            leaks={str(kind): int(count) for kind, count in leaks.items()},
            error=None if record.get("error") is None else str(record["error"]),
        )


@dataclass(frozen=True)
class ExampleView:
    """A held-out example side by side: `chat` is the user message (the source whose PII must not be repeated),
    `human_summary` the labeller's answer the outputs are scored against."""

    data_row_id: str
    chat: str
    human_summary: str
    base: OutputView | None = None
    tuned: OutputView | None = None
