"""Which held-out examples the report shows, chosen from a stream in bounded memory.

A run can hold 10,000 held-out examples; a report a person reads shows at most `limit` (200) of them: every
example whose tuned output leaks PII first (most leaks first), then, half and half, the lowest tuned ROUGE-L
and a deterministic sample of the rest (by a hash of the data row id, so the same run always shows the same
ones, and a reader also sees typical answers, not only failures). Each choice keeps at most `limit` entries in
a heap while the stream goes by, and the per-example score distributions are counted into fixed bins, so
memory does not grow with the run.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from labeltune.report.views import ExampleView, OutputView

DEFAULT_LIMIT = 200
ROUGE_BINS = 10  # [0, 0.1), [0.1, 0.2), ... [0.9, 1.0]
LEAK_BINS = 5  # 0, 1, 2, 3, 4 or more distinct PII values repeated
ROLES = ("base", "tuned")

T = TypeVar("T")


class Reason(StrEnum):
    """Why an example is in the report (shown beside it)."""

    LEAK = "tuned output leaks PII"
    LOW_ROUGE = "among the lowest tuned ROUGE-L"
    SAMPLE = "deterministic sample"


@dataclass
class Distribution:
    """One model's per-example scores over the whole held-out set, counted into fixed bins."""

    rouge_bins: list[int] = field(default_factory=lambda: [0] * ROUGE_BINS)
    leak_bins: list[int] = field(default_factory=lambda: [0] * LEAK_BINS)
    answered: int = 0
    errors: int = 0

    def add(self, output: OutputView) -> None:
        """Count one answer; an unanswered example counts as an error only (its ROUGE-L 0 is no summary)."""
        if output.error is not None:
            self.errors += 1
            return
        self.answered += 1
        rouge = min(max(output.rouge_l, 0.0), 1.0)
        self.rouge_bins[min(int(rouge * ROUGE_BINS), ROUGE_BINS - 1)] += 1
        self.leak_bins[min(output.leak_count, LEAK_BINS - 1)] += 1


class _Descending:
    """Orders keys backwards, so heapq's min-heap keeps the largest of the smallest keys on top."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)


class _Smallest(Generic[T]):
    """The `limit` items with the smallest keys seen so far, in O(limit) memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._heap: list[tuple[_Descending, int, T]] = []
        self._order = itertools.count()

    def push(self, key: tuple[Any, ...], item: T) -> None:
        entry = (_Descending(key), next(self._order), item)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        elif key < self._heap[0][0].key:
            heapq.heapreplace(self._heap, entry)

    def __len__(self) -> int:
        return len(self._heap)

    def ordered(self) -> list[T]:
        """The kept items, smallest key first."""
        return [item for _, _, item in sorted(self._heap, key=lambda entry: (entry[0].key, entry[1]))]


def sample_key(data_row_id: str) -> str:
    """A stable pseudo-random rank (not Python's salted hash()): the same run samples the same examples."""
    return hashlib.blake2b(data_row_id.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Selection(Generic[T]):
    """The examples to show, in the order to show them, with what the whole set looked like."""

    shown: list[tuple[Reason, T]]
    total: int  # examples in the held-out set
    leaking: int  # of them, how many tuned outputs leak
    distributions: Mapping[str, Distribution]  # by role: "base", "tuned"


class ExampleSelector(Generic[T]):
    """Feed every example once (`add`), then take `selection()`. `T` is whatever identifies an example to the
    caller: its data row id when the texts are read later, or the whole ExampleView."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a report shows at least one example")
        self.limit = limit
        self.total = 0
        self.leaking = 0
        self.distributions = {role: Distribution() for role in ROLES}
        self._leaking: _Smallest[tuple[str, T]] = _Smallest(limit)
        self._lowest: _Smallest[tuple[str, T]] = _Smallest(limit)
        self._sample: _Smallest[tuple[str, T]] = _Smallest(limit)

    def count(self, role: str, output: OutputView) -> None:
        """Add one answer to its model's distribution (every answer of every example, whether shown or not)."""
        if role in self.distributions:
            self.distributions[role].add(output)

    def add(self, data_row_id: str, tuned: OutputView | None, item: T) -> None:
        """Consider one example for showing, by its tuned answer (None when the evaluation has none for it)."""
        self.total += 1
        entry = (data_row_id, item)
        if tuned is not None and tuned.leak_count > 0:
            self.leaking += 1
            self._leaking.push((-tuned.leak_count, tuned.rouge_l, data_row_id), entry)
            return
        self._lowest.push((tuned.rouge_l if tuned is not None else 0.0, data_row_id), entry)
        self._sample.push((sample_key(data_row_id), data_row_id), entry)

    @property
    def held(self) -> int:
        """How many examples are kept right now: at most 3 x limit, however many were added."""
        return len(self._leaking) + len(self._lowest) + len(self._sample)

    def selection(self) -> Selection[T]:
        leaking = self._leaking.ordered()
        room = self.limit - len(leaking)
        lowest = self._lowest.ordered()[: (room + 1) // 2]
        taken = {data_row_id for data_row_id, _ in lowest}
        sample = [entry for entry in self._sample.ordered() if entry[0] not in taken][: room - len(lowest)]
        shown = [
            *((Reason.LEAK, item) for _, item in leaking),
            *((Reason.LOW_ROUGE, item) for _, item in lowest),
            *((Reason.SAMPLE, item) for _, item in sample),
        ]
        return Selection(shown=shown, total=self.total, leaking=self.leaking, distributions=self.distributions)


def select_views(examples: Iterable[ExampleView], limit: int = DEFAULT_LIMIT) -> Selection[ExampleView]:
    """Choose from complete views streamed in (each view's texts kept only while it may be shown)."""
    selector: ExampleSelector[ExampleView] = ExampleSelector(limit)
    for view in examples:
        for role in ROLES:
            output = getattr(view, role)
            if output is not None:
                selector.count(role, output)
        selector.add(view.data_row_id, view.tuned, view)
    return selector.selection()
