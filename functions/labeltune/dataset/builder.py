"""The dataset builder: a Labelbox export in, OpenAI chat fine-tuning files and a report out, in one pass.

One builder, two entry points: the PrepareDataset state (`labeltune.pipeline.prepare`) and
`labeltune dataset build` run this same code. Input is an iterable of export lines (bytes or str, one
NDJSON row each) or of already parsed rows (pass `parsed=True`, so that a row that is a
JSON string is a malformed row, not a line to parse again); nothing is held but the current row, a digest
per kept example and a hash per data row (deduplication) and a token count per example (statistics).

Per row, in order (the first failing step names the row's reason code, see `Reason`):
  decode UTF-8 -> parse JSON -> convert (`extract_example`, convert_row's core: project, DONE, label,
  response, prompt, text hygiene) -> data row seen before? -> same prompt kept before (same response:
  duplicate_example, another: duplicate_prompt)? -> count tokens with the base model's encoding ->
  per-example limit -> OpenAI format checks -> split by the data row's identity -> write.

One chat, one split. The split is a pure function of the data row's identity (a hash of its global key),
so a chat exported under two data rows (labelled twice, with two summaries) could land in train.jsonl and
in eval.jsonl. Deduplication by normalised prompt prevents that: of the rows that share a prompt, the
FIRST ONE IN EXPORT ORDER that passes every check is kept and the others are rejected. Which copy is kept
therefore depends on the export's order (Labelbox does not promise one); which split a kept example goes
to never does.

A malformed row never fails the build: converting one row (everything from `extract_example` to the
formatted output line) runs under a per-row guard, and an exception there that the checks above did not
foresee rejects that row as malformed_row (with its data row id when it has one) and is counted by
exception type in the report. Reading the input and writing the outputs are outside the guard: a failing
source, sink or upload fails the build, as it must (and so does MemoryError).

Outputs, through a `DatasetSink` (`FILES` names them): train.jsonl and validation.jsonl exactly in OpenAI's
format; eval.jsonl (held out, never uploaded to OpenAI) with a leading "data_row_id" on each line;
rejected.ndjson with the data row id, line number and reason code of each rejected row and nothing of
its content; report.json (`DatasetReport`). The builder itself logs nothing.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring, encode_basestring_ascii  # C
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Protocol

from labeltune.dataset.dedupe import Deduplicator
from labeltune.dataset.pricing import PriceTable, load_price_table
from labeltune.dataset.report import (
    RECOMMENDED_MIN_EXAMPLES,
    CostEstimate,
    DatasetReport,
    TokenStats,
    TrainingEstimate,
    default_epochs,
)
from labeltune.dataset.tokens import TOKENS_PER_EXAMPLE, TOKENS_PER_MESSAGE, TokenCounter, example_limit_for
from labeltune.dataset.validation import format_errors
from labeltune.domain.conversion import LABEL_CHOICE_RULE, Reason, data_row_id_of, extract_example, text_defect
from labeltune.domain.models import Rejection
from labeltune.domain.project_config import ProjectConfig
from labeltune.domain.split import bucket

SPLITS = ("train", "validation", "eval")
FILES: Mapping[str, str] = {
    "train": "train.jsonl",
    "validation": "validation.jsonl",
    "eval": "eval.jsonl",
    "rejected": "rejected.ndjson",
    "report": "report.json",
}
DUPLICATE_REASONS = (Reason.DUPLICATE_DATA_ROW, Reason.DUPLICATE_EXAMPLE, Reason.DUPLICATE_PROMPT)
RULES = {
    "label_choice": LABEL_CHOICE_RULE,
    "split": "SHA-256 of the data row's global key (else its id) -> [0, 1) against the split ratios",
    "dedupe": "before the split, by prompt: one example per user text (all whitespace removed, Unicode "
    "casefold); the first row in export order that passes every check is kept, a later row with the same "
    "prompt is duplicate_example (same assistant text) or duplicate_prompt (another one)",
    "tokens": "cookbook num_tokens_from_messages: 3 per message + role + content (+1 + name), 3 per example",
    "epochs": "cookbook heuristic (TARGET_EPOCHS=3, MIN_TARGET_EXAMPLES=100, MAX_TARGET_EXAMPLES=25000, "
    "epochs within 1..25) unless the configuration sets n_epochs",
}


class DatasetSink(Protocol):
    """Where the builder's outputs go: one text stream per name in FILES."""

    def writer(self, name: str) -> Callable[[str], Any]:
        """A function that appends text to the output `name`."""
        ...


class DirectorySink:
    """Writes the outputs as files in a directory (a Lambda's /tmp spool, or the CLI's --out)."""

    BUFFER = 1 << 20

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}

    def path(self, name: str) -> Path:
        return self.directory / FILES[name]

    def writer(self, name: str) -> Callable[[str], Any]:
        if name not in self._files:
            self._files[name] = self.path(name).open("w", encoding="utf-8", newline="\n", buffering=self.BUFFER)
        return self._files[name].write

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __enter__(self) -> DirectorySink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _json_string(text: str) -> str:
    """`json.dumps(text, ensure_ascii=False)`, except that U+2028 and U+2029 are escaped: JSON allows them raw,
    but str.splitlines() and older JavaScript break lines there. (For ASCII text the ASCII encoder gives the
    same result twice as fast.)"""
    if text.isascii():
        return encode_basestring_ascii(text)
    encoded = encode_basestring(text)
    if "\u2028" in encoded or "\u2029" in encoded:
        encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return encoded


def _json_text(text: str) -> str:
    """`_json_string(text)` without its quotes, for a text that passed the text hygiene check (`text_defect`),
    so that it holds no control character but tab, LF and CR. The common case, ASCII prose without quotes,
    backslashes, tabs or CRs, needs only its line breaks escaped: a few memchr scans and one replace, half
    the C encoder's time."""
    if text.isascii() and '"' not in text and "\\" not in text and "\t" not in text and "\r" not in text:
        return text.replace("\n", "\\n")
    return _json_string(text)[1:-1]


class DatasetBuilder:
    """Builds one dataset. `build` may be called once per instance."""

    def __init__(
        self,
        project_id: str,
        config: ProjectConfig,
        *,
        price_table: PriceTable | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        defect = text_defect(config.system_prompt)
        if defect is not None or not config.system_prompt.strip():
            raise ValueError(f"the configured system prompt is not usable ({defect or 'blank'})")
        self.project_id = project_id
        self.config = config
        self.price_table = price_table or load_price_table()
        self.counter = counter or TokenCounter(config.base_model)
        self.limit = example_limit_for(config.base_model, config.max_tokens_per_example)

    def build(
        self, items: Iterable[bytes | str | Mapping[str, Any]], sink: DatasetSink, *, parsed: bool = False
    ) -> DatasetReport:
        """Build from `items`: export lines (bytes or str) and parsed rows, told apart by type, or, with
        `parsed=True`, parsed rows only (whatever their type)."""
        config, project_id, mapping = self.config, self.project_id, self.config.mapping
        system = config.system_prompt
        ratios = config.split
        # assign_split(key, ratios) with its thresholds computed once (the same floats, compared the same way).
        eval_below, validation_below = ratios.eval, ratios.eval + ratios.validation
        count, encode = self.counter.count, self.counter.encode
        limit = self.limit.tokens
        # Everything but the user and assistant contents is the same for every example: count it once.
        fixed_tokens = (
            TOKENS_PER_EXAMPLE
            + 3 * TOKENS_PER_MESSAGE
            + count(system)
            + count("system")
            + count("user")
            + count("assistant")
        )
        # json.dumps(record, ensure_ascii=False) assembled from its strings (less work; see _json_string).
        # eval.jsonl is never uploaded: its lines lead with the row id, for per-example results.
        system_message = f'{{"role": "system", "content": {_json_string(system)}}}, '
        openai_lead = '{"messages": [' + system_message
        dedupe = Deduplicator()
        check_duplicate, keep = dedupe.check, dedupe.keep
        check_format = format_errors
        # The record each line says, checked with OpenAI's format rules before the line is written: one
        # record whose two contents are set per row (the checks read it and keep nothing of it).
        user_message = {"role": "user", "content": ""}
        assistant_message = {"role": "assistant", "content": ""}
        record = {"messages": [{"role": "system", "content": system}, user_message, assistant_message]}

        write = {name: sink.writer(name) for name in (*SPLITS, "rejected")}
        write_rejected = write["rejected"]
        examples = dict.fromkeys(SPLITS, 0)
        reasons: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        unexpected: Counter[str] = Counter()
        tokens = {name: array("I") for name in SPLITS}
        assistant_tokens = array("I")
        rows_read = blank_lines = 0

        def convert(row: Any) -> tuple[Any, Any]:
            """One parsed row -> (reason code, data row id) when it is rejected, else (the writer of its
            split, its line), with the example counted and remembered. Writes nothing: everything here runs
            under the per-row guard, and the bookkeeping comes last, once nothing can fail."""
            example = extract_example(row, project_id, mapping)
            if isinstance(example, Rejection):
                return example.reason, example.data_row_id
            data_row_id, split_key, _, prompt, response, prompt_normal, response_normal = example
            duplicate, keys = check_duplicate(data_row_id, prompt_normal, response_normal)
            if duplicate is not None:
                return duplicate, data_row_id
            response_tokens = len(encode(response))
            total_tokens = fixed_tokens + len(encode(prompt)) + response_tokens
            if total_tokens > limit:
                return Reason.TOO_MANY_TOKENS, data_row_id
            user_message["content"] = prompt
            assistant_message["content"] = response
            failed = check_format(record)
            if failed:
                errors.update(failed)
                return Reason.INVALID_EXAMPLE, data_row_id
            point = bucket(split_key)
            if point < eval_below:
                split = "eval"
                lead = f'{{"data_row_id": {_json_string(data_row_id)}, "messages": [{system_message}'
            else:
                split = "validation" if point < validation_below else "train"
                lead = openai_lead
            line = (
                f'{lead}{{"role": "user", "content": "{_json_text(prompt)}"}}, '
                f'{{"role": "assistant", "content": "{_json_text(response)}"}}]}}\n'
            )
            keep(keys)
            examples[split] += 1
            tokens[split].append(total_tokens)
            if split == "train":
                assistant_tokens.append(response_tokens)
            return write[split], line

        for line_number, item in enumerate(items, start=1):
            result: tuple[Any, ...] | None = None
            if not parsed and (type(item) is bytes or isinstance(item, bytearray | str)):
                if not item or item.isspace():
                    blank_lines += 1
                    continue
                try:
                    row = json.loads(item if isinstance(item, str) else item.decode("utf-8"))
                except UnicodeDecodeError:
                    result = (Reason.INVALID_UTF8, None)
                except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                    result = (Reason.INVALID_JSON, None)
            else:
                row = item
            rows_read += 1
            if result is None:
                # The per-row guard: nothing a row holds may stop the build (see the module docstring).
                try:
                    result = convert(row)
                except MemoryError:
                    raise
                except Exception as error:
                    unexpected[type(error).__name__] += 1
                    result = (Reason.MALFORMED, data_row_id_of(row))

            head, tail = result
            if type(head) is str:  # a reason code, and the data row id
                reasons[head] += 1
                write_rejected(json.dumps({"data_row_id": tail, "reason": head, "line_number": line_number}) + "\n")
            else:
                head(tail)  # the line, to its split's file

        dedupe.release()  # done with: free the digests before the report's statistics need memory of their own
        report = self._report(rows_read, blank_lines, examples, reasons, errors, unexpected, tokens, assistant_tokens)
        sink.writer("report")(report.model_dump_json(indent=2) + "\n")
        return report

    def _report(
        self,
        rows_read: int,
        blank_lines: int,
        examples: Mapping[str, int],
        reasons: Counter[str],
        errors: Counter[str],
        unexpected: Counter[str],
        tokens: Mapping[str, array],
        assistant_tokens: array,
    ) -> DatasetReport:
        config = self.config
        counts = {name: examples.get(name, 0) for name in SPLITS}
        n_train = counts["train"]
        problems, warnings = [], []
        if n_train < config.min_examples or counts["eval"] < 1:
            problems.append(
                f"{n_train} training and {counts['eval']} held-out examples from {rows_read} rows; "
                f"need at least {config.min_examples} training and 1 held-out"
            )
        elif n_train < RECOMMENDED_MIN_EXAMPLES:
            warnings.append(
                f"{n_train} training examples: OpenAI recommends at least {RECOMMENDED_MIN_EXAMPLES} "
                "for a clear improvement"
            )
        if errors:
            warnings.append(f"{reasons[Reason.INVALID_EXAMPLE]} examples failed OpenAI's format checks")
        if unexpected:
            kinds = ", ".join(f"{name} {n}" for name, n in sorted(unexpected.items()))
            warnings.append(
                f"{sum(unexpected.values())} rows could not be converted ({kinds}) and were rejected as "
                f"{Reason.MALFORMED}"
            )

        explicit_epochs = config.hyperparameters.n_epochs
        epochs_source: Literal["project configuration", "cookbook heuristic"]
        if isinstance(explicit_epochs, int):
            n_epochs, epochs_source = explicit_epochs, "project configuration"
        else:
            n_epochs, epochs_source = default_epochs(n_train), "cookbook heuristic"
        limit = self.limit.tokens
        train_tokens = sum(tokens["train"])
        per_epoch = sum(min(limit, n) for n in tokens["train"])
        training = TrainingEstimate(
            train_tokens=train_tokens,
            billing_tokens_per_epoch=per_epoch,
            n_epochs=n_epochs,
            n_epochs_source=epochs_source,
            billable_tokens=per_epoch * n_epochs,
            validation_tokens=sum(tokens["validation"]),
        )
        table = self.price_table
        priced = table.training_price(config.base_model)
        cost = CostEstimate(
            estimated_usd=round(training.billable_tokens * priced[1] / 1_000_000, 4) if priced else None,
            price_per_1m_training_tokens=priced[1] if priced else None,
            priced_as=priced[0] if priced else None,
            currency=table.currency,
            price_table_source=table.source,
            price_table_as_of=table.as_of,
            price_table_path=table.path,
            note="" if priced else f"no training price for {config.base_model} in the price table",
        )
        if not priced:
            warnings.append(cost.note)
        duplicates = sum(reasons.get(code, 0) for code in DUPLICATE_REASONS)
        return DatasetReport(
            ok=not problems,
            problems=problems,
            warnings=warnings,
            project_id=self.project_id,
            base_model=config.base_model,
            token_encoding=self.counter.encoding_name,
            max_tokens_per_example=limit,
            max_tokens_source=self.limit.source,
            rows_read=rows_read,
            blank_lines=blank_lines,
            examples=counts,
            rejected=sum(reasons.values()),
            rejected_by_reason=dict(sorted(reasons.items())),
            duplicates_removed=duplicates,
            format_errors=dict(sorted(errors.items())),
            unexpected_errors=dict(sorted(unexpected.items())),
            tokens_per_example={name: TokenStats.of(tokens[name]) for name in SPLITS},
            assistant_tokens_per_example=TokenStats.of(assistant_tokens),
            training=training,
            cost=cost,
            split_ratios=config.split.model_dump(),
            min_examples=config.min_examples,
            rules=RULES,
            files=dict(FILES),
        )


def build_dataset(
    items: Iterable[bytes | str | Mapping[str, Any]],
    sink: DatasetSink,
    project_id: str,
    config: ProjectConfig,
    *,
    price_table: PriceTable | None = None,
    counter: TokenCounter | None = None,
    parsed: bool = False,
) -> DatasetReport:
    """Build the dataset of `project_id` from export lines or rows (`parsed=True`: rows only) into `sink`;
    return the report (also in the sink)."""
    builder = DatasetBuilder(project_id, config, price_table=price_table, counter=counter)
    return builder.build(items, sink, parsed=parsed)


def iter_export_lines(path: Path) -> Iterable[bytes]:
    """The lines of an NDJSON export file as bytes (gzip when the name ends in .gz), read incrementally."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from handle
