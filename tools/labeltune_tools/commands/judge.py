"""`labeltune judge agreement`: how well a judge agrees with the human verdicts of the human-labelled set.

Runs the judge (`labeltune.pipeline.judge.measure_agreement`, the code a run uses) over
examples/judge_human_labels.jsonl and prints, overall (pass/fail) and per criterion, the raw agreement with
the human verdicts, Cohen's kappa and how many examples were judged; then whether a project with the default
thresholds (`JudgeConfig`: min_agreement, min_kappa) would let this judge gate a run.

The judge here is the local emulator's stand-in (`labeltune_tools.emulator.judge`), reached through the same
adapter a run uses (OpenAI SDK or boto3 Converse): a rule-based judge, not a language model, so the numbers
measure the stand-in and show how agreement is reported; they say nothing of a real judge model.

Exit status: 0 when the judge would be trusted to gate, 1 when it would not, 2 when the command could not
run (an unreadable or invalid human-labelled set).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from labeltune.domain.judge import Agreement, CriterionAgreement, JudgeConfig
from labeltune.domain.project_config import PROVIDERS
from labeltune.ports import ChatModel
from labeltune_tools.embedded.stack import repo_root

EMULATED_BY = {"openai": "the OpenAI emulator", "bedrock": "the Bedrock emulator"}


def default_labels() -> Path:
    return repo_root() / "examples" / "judge_human_labels.jsonl"


@contextmanager
def emulated_chat(provider: str) -> Iterator[ChatModel]:
    """The provider's chat adapter, pointed at its emulator (started here, stopped on exit)."""
    if provider == "openai":
        from openai import OpenAI

        from labeltune.adapters.openai_provider import OpenAIFineTuning
        from labeltune_tools.emulator import OpenAIEmulator

        with OpenAIEmulator() as emulator, OpenAI(base_url=emulator.base_url, api_key="local-emulator") as client:
            yield OpenAIFineTuning(client)
    else:
        from labeltune.adapters.bedrock_provider import BedrockChat
        from labeltune_tools.bedrock_emulator import BedrockEmulator

        with BedrockEmulator() as bedrock:
            yield BedrockChat(bedrock.client("bedrock-runtime"))


def _row(name: str, measured: CriterionAgreement) -> str:
    kappa = f"{measured.kappa:.4f}" if measured.kappa is not None else "   n/a"
    return f"  {name:<24} {measured.raw:>9.4f} {kappa:>8} {measured.judged:>4}/{measured.examples}"


def report(agreement: Agreement, provider: str, model: str, labels: Path, config: JudgeConfig) -> list[str]:
    """The agreement table and the trust verdict, as printed."""
    lines = [
        f"judge: {provider} {model}, answered by {EMULATED_BY[provider]}'s stand-in judge (rules, not a language "
        "model)",
        f"human-labelled set: {labels} ({agreement.examples} examples, labelled by the labeltune team)",
        f"  {'':<24} {'agreement':>9} {'kappa':>8} {'judged':>9}",
        _row("overall (pass/fail)", agreement.overall),
        *(_row(name, measured) for name, measured in agreement.criteria.items()),
        f"judge errors (no usable verdict): {agreement.errors}",
    ]
    if agreement.examples and agreement.errors == agreement.examples:
        lines.append(f"  no verdict at all: is {model} a model {EMULATED_BY[provider]} serves?")
    findings = config.findings(agreement)
    thresholds = f"min agreement {config.min_agreement:.2f}, min kappa {config.min_kappa:.2f}"
    if findings:
        lines.append(f"trusted to gate a run: no ({thresholds})")
        lines += [f"  {finding}" for finding in findings]
    else:
        lines.append(f"trusted to gate a run: yes ({thresholds})")
    return lines


def agreement_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from labeltune.pipeline.judge import measure_agreement

    out, err = out or sys.stdout, err or sys.stderr  # looked up per call: tests and callers swap them

    config = JudgeConfig()
    model = args.model or config.model_for(args.provider)
    labels = Path(args.labels) if args.labels else default_labels()
    try:
        with labels.open(encoding="utf-8") as lines:
            text_lines = list(lines)
        with emulated_chat(args.provider) as chat:
            measured = measure_agreement(chat, model, text_lines)
    except (OSError, ValueError) as error:
        print(f"labeltune judge agreement: {error}", file=err)
        return 2
    if args.json:
        print(measured.model_dump_json(indent=2), file=out)
    else:
        print("\n".join(report(measured, args.provider, model, labels, config)), file=out)
    return 0 if not config.findings(measured) else 1


def register(sub: Any) -> None:
    judge = sub.add_parser("judge", help="the LLM judge of summaries")
    judge_sub = judge.add_subparsers(dest="judge_command", required=True)
    command = judge_sub.add_parser(
        "agreement",
        help="the judge's agreement with the human-labelled set (the emulators' stand-in judge)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("--provider", choices=PROVIDERS, default="openai", help="whose emulator answers")
    command.add_argument(
        "--model", help="the judge model (default: the provider's default judge, labeltune.domain.judge)"
    )
    command.add_argument("--labels", help=f"the human-labelled set, JSONL (default: {default_labels()})")
    command.add_argument("--json", action="store_true", help="print the agreement as JSON")
    command.set_defaults(func=agreement_command)
