"""`labeltune dataset build EXPORT --out DIR`: the PrepareDataset state's builder, on a local export file.

The same code as the pipeline (labeltune.dataset), so what it reports is what a run would train on:
train.jsonl, validation.jsonl, eval.jsonl, rejected.ndjson and report.json in DIR. `--config` takes a
project configuration file in the per-project schema (ProjectConfig, as JSON; or the project record the
API returns, whose "config" it reads). Prints counts and estimates only, never a row's content.

`--provider openai|bedrock` overrides the configuration's provider (train.jsonl and validation.jsonl are
then in that provider's format: OpenAI's chat format, or Bedrock's bedrock-conversation-2024 for Amazon
Nova); `--base-model` overrides its base model. Without `--base-model`, a provider other than the
configuration's gets its own default model (the configuration's model belongs to the other provider).

The base model is checked against the dated model catalog: a model the provider no longer trains (a run
would be refused before exporting anything) is a PROBLEM line, a date within 30 days a warning; neither
changes what is built or the exit status (the summary only, not `--json`).

Exit status: 0 when the dataset can be trained on, 1 when it cannot (too few examples: see the report's
problems), 2 when the command could not run (unreadable export or configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from labeltune.catalog import Verdict, load_catalog
from labeltune.dataset import DatasetReport, DirectorySink, build_dataset, load_price_table
from labeltune.dataset.builder import FILES, iter_export_lines
from labeltune.dataset.pricing import PriceTableError
from labeltune.dataset.tokens import EncodingUnavailable
from labeltune.domain.project_config import LEGACY_PROVIDER, PROVIDERS, ProjectConfig

PEEK_LINES = 1000


class UsageError(Exception):
    """Something the user must fix in the command line or its input files (exit status 2)."""


def load_config(
    path: Path | None, *, provider: str | None = None, base_model: str | None = None
) -> tuple[ProjectConfig, str | None]:
    """(the configuration, the project id the file names, if any), with the command line's overrides."""
    data, project_id = _read_config(path) if path is not None else ({}, None)
    if provider is not None:
        if data.get("provider", LEGACY_PROVIDER) != provider:
            data.pop("base_model", None)  # the file's model is the other provider's: this one's default applies
        data["provider"] = provider
    if base_model is not None:
        data["base_model"] = base_model
    try:
        return ProjectConfig.model_validate(data), project_id
    except ValidationError as error:
        where = f"the configuration {path}" if path is not None else "the configuration"
        raise UsageError(f"{where} is not valid:\n{error}") from error


def _read_config(path: Path) -> tuple[dict[str, Any], str | None]:
    """The configuration file's object (a project record's "config"), and the project id it names."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # optional: installed with labeltune[local]

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (OSError, ValueError, ImportError) as error:
        raise UsageError(f"cannot read the configuration {path}: {error}") from error
    project_id = None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):  # a project record from the API
        project_id = data.get("project_id") if isinstance(data.get("project_id"), str) else None
        data = data["config"]
    if not isinstance(data, dict):
        raise UsageError(f"the configuration {path} is not a JSON object")
    return dict(data), project_id


def infer_project(lines: Iterable[bytes]) -> str:
    """The project of an export whose rows all name one project (looked for in the first rows)."""
    for number, line in enumerate(lines, start=1):
        if number > PEEK_LINES:
            break
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # unparsable or too deeply nested: the builder will reject it
            continue
        projects = row.get("projects") if isinstance(row, dict) else None
        if isinstance(projects, dict) and projects:
            if len(projects) > 1:
                raise UsageError(f"rows belong to several projects ({', '.join(sorted(projects))}): pass --project")
            return next(iter(projects))
    raise UsageError("no row names its project: pass --project")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def summary(report: DatasetReport, export: Path, out_dir: Path) -> list[str]:
    """Human-readable lines: counts, token statistics and estimates (no content)."""
    examples, training, cost, bedrock = report.examples, report.training, report.cost, report.bedrock
    reasons = ", ".join(f"{reason} {n}" for reason, n in report.rejected_by_reason.items()) or "none"
    lines = [
        f"dataset for project {report.project_id}: {report.rows_read} rows read from {export}",
        f"  examples:  {examples['train']} train, {examples['validation']} validation, "
        f"{examples['eval']} eval (held out)",
        f"  rejected:  {report.rejected} ({reasons}); duplicates removed: {report.duplicates_removed}",
    ]
    if bedrock is not None:
        lines += [
            f"  format:    {bedrock.training_format} (train.jsonl, validation.jsonl); eval.jsonl in the neutral chat "
            "format",
            f"  validation: {bedrock.validation}",
            f"  speaker labels rewritten: {bedrock.speaker_labels_rewritten} in "
            f"{bedrock.examples_with_speaker_labels_rewritten} chats ('User:' -> 'User -')",
        ]
    train = report.tokens_per_example.get("train")
    if train is not None:
        limit = f"{report.max_tokens_per_example:,}" if report.max_tokens_per_example is not None else "not published"
        estimate = " (estimates: Nova's tokenizer is not public)" if bedrock is not None else ""
        lines.append(
            f"  tokens:    {report.token_encoding} for {report.base_model}; per training example min {train.min}, "
            f"mean {_fmt(train.mean)}, p95 {_fmt(train.p95)}, max {train.max} (limit {limit}){estimate}"
        )
    lines.append(
        f"  training:  {training.billing_tokens_per_epoch:,} tokens x {training.n_epochs} epochs "
        f"({training.n_epochs_source}) = {training.billable_tokens:,} billable tokens (estimate)"
    )
    if cost.parts is not None:
        lines += [f"  cost:      {part.part}: {part.estimate} ({part.priced_as})" for part in cost.parts]
    elif cost.estimated_usd is not None:
        lines.append(
            f"  cost:      ~{cost.estimated_usd:,.2f} {cost.currency} at "
            f"{cost.price_per_1m_training_tokens:,.2f} per 1M training tokens "
            f"({cost.priced_as}; price table as of {cost.price_table_as_of})"
        )
    else:
        lines.append(f"  cost:      unknown ({cost.note})")
    lines.append(f"  wrote:     {', '.join(str(out_dir / name) for name in FILES.values())}")
    lines += [f"  warning:   {warning}" for warning in report.warnings]
    lines += [f"  PROBLEM:   {problem}" for problem in report.problems]
    return lines


def model_lines(verdict: Verdict) -> list[str]:
    """The base model's dates, and what the catalog says of them today."""
    dates = [f"training closes {verdict.training_closes}"] if verdict.training_closes else []
    dates += [f"shuts down {verdict.shutdown}"] if verdict.shutdown else []
    lines = [f"  model:     {verdict.provider} {verdict.model} ({', '.join(dates) or 'no closing date known'})"]
    lines += [f"  warning:   {warning}" for warning in verdict.warnings]
    lines += [f"  PROBLEM:   {problem} (a run would be refused before exporting)" for problem in verdict.problems]
    return lines


def build(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr, today: date | None = None
) -> int:
    """`today` is the date the model catalog is read for (the system's date unless a test passes one)."""
    export, out_dir = Path(args.export), Path(args.out)
    try:
        if not export.is_file():
            raise UsageError(f"no export file at {export}")
        config, config_project = load_config(
            Path(args.config) if args.config else None, provider=args.provider, base_model=args.base_model
        )
        project_id = args.project or config_project or infer_project(iter_export_lines(export))
        price_table = load_price_table(args.price_table)
        with DirectorySink(out_dir) as sink:
            report = build_dataset(iter_export_lines(export), sink, project_id, config, price_table=price_table)
    except (UsageError, PriceTableError, EncodingUnavailable, ValueError, OSError) as error:
        print(f"labeltune dataset build: {error}", file=err)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2), file=out)
    else:
        verdict = load_catalog().check(config.provider, config.base_model, today or date.today())
        print("\n".join(summary(report, export, out_dir) + model_lines(verdict)), file=out)
    return 0 if report.ok else 1


def register(sub: Any) -> None:
    dataset = sub.add_parser("dataset", help="build and check fine-tuning datasets")
    dataset_sub = dataset.add_subparsers(dest="dataset_command", required=True)
    command = dataset_sub.add_parser(
        "build",
        help="Labelbox export (NDJSON) -> train/validation/eval JSONL, rejected.ndjson and report.json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("export", help="the Labelbox export: one JSON row per line (.ndjson, or .ndjson.gz)")
    command.add_argument("--out", required=True, help="directory for the outputs (created if missing)")
    command.add_argument("--config", help="project configuration file (ProjectConfig JSON, or YAML)")
    command.add_argument("--project", help="Labelbox project id (default: the one the export's rows name)")
    command.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="fine-tuning provider whose format train.jsonl and validation.jsonl are in (overrides --config's)",
    )
    command.add_argument(
        "--base-model", help="base model id (overrides --config's; default: the provider's default model)"
    )
    command.add_argument(
        "--price-table", help="training price table JSON (default: $LABELTUNE_PRICE_TABLE, else the packaged one)"
    )
    command.add_argument("--json", action="store_true", help="print the whole report as JSON")
    command.set_defaults(func=build)
