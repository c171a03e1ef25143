"""Cold import of each Lambda handler against an empty Powertools handler with the same utilities and SDKs.

    .venv/bin/python benchmarks/bench_cold_start.py                 # 15 rounds
    .venv/bin/python benchmarks/bench_cold_start.py --repeat 31 --importtime

Every measurement is a fresh interpreter (`python -S -X frozen_modules=on -c ...`, the interpreter running this
script, with labeltune, the baselines and site-packages on PYTHONPATH as Lambda puts /var/task there) that
times, with perf_counter and process_time, `import <module>` and nothing else: interpreter start-up is the same
for everything and left out. Measured, for each of the seven handlers in template.yaml:

- handler: `import labeltune.handlers.<name>`, what the Lambda runtime does at its init.
- baseline: a generated module, an empty Powertools handler: Logger, Tracer, Metrics, the parser (an
  `event_parser` over a one-field model) and, for the API, an `APIGatewayRestResolver` with one route; plus
  `import` of the third-party SDKs that function needs (labelbox for the export steps, tiktoken for
  PrepareDataset, openai for the fine-tune steps and RecordOutcome, openai and nltk's Porter stemmer for Evaluate).
- handler + SDKs: the handler, then the same SDK imports as its baseline. labeltune imports its SDKs when
  first used, so the handler alone leaves out what a cold invocation still pays before it answers; this is
  the like-for-like comparison with the baseline (only labeltune's own code differs). The API has no SDK.

All of it runs in one run: the bytecode cache is written first (compileall of labeltune and the baselines,
then every measurement once, untimed, with bytecode writing on: a deployed build ships .pyc files), then
`--repeat` rounds. A round measures every function once, in a shuffled order; a function's handler, handler +
SDKs and baseline run back to back, in a shuffled order too, so the three see the same load on the machine.
Reported: the median time of each, and ratio = the median over the rounds of handler / baseline within the
round (wall clock: the target; CPU time, process_time, for the record: other load changes it least). The
environment is Lambda's as far as Powertools looks (LAMBDA_TASK_ROOT set, so the Tracer is enabled and
patches what it patches in Lambda; the same POWERTOOLS_* variables as template.yaml).

Exit 1 when a wall-clock ratio (handler, or handler + SDKs) is above 1.2, when the webhook handler (api)
imports any of openai, labelbox, numpy, nltk, tiktoken or rouge_score, or when any handler imports one of
those its function does not need. benchmarks/README.md has the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import site
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
TARGET = 1.2
NOISY_SPREAD = 0.15  # interquartile range / median above this: the machine was busy, the median is less sure
HEAVY = ("openai", "labelbox", "numpy", "nltk", "tiktoken", "rouge_score")


@dataclass(frozen=True)
class Function:
    handler: str  # labeltune.handlers.<handler>
    sdks: tuple[str, ...]  # the modules its steps import from third-party SDKs
    needs: tuple[str, ...]  # the HEAVY top-level packages those bring in (allowed in sys.modules)


FUNCTIONS_UNDER_TEST = (
    Function("api", (), ()),
    Function("export_labels", ("labelbox",), ("labelbox",)),
    Function("prepare_dataset", ("tiktoken",), ("tiktoken",)),
    Function("start_fine_tune", ("openai",), ("openai",)),
    Function("check_fine_tune", ("openai",), ("openai",)),
    Function("serve_model", (), ()),
    Function("evaluate", ("openai", "nltk.stem.porter"), ("openai", "nltk")),
    Function("record_outcome", ("openai",), ("openai",)),
)

BASELINE_TEMPLATE = '''\
"""An empty Powertools handler: {what}."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
{imports}
logger = Logger()
tracer = Tracer()
metrics = Metrics()


class Event(BaseModel):
    run_id: str

{body}
'''

STEP_BODY = """
@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=Event)
def handler(event: Event, context: Any) -> dict:
    return {"run_id": event.run_id}
"""

API_BODY = """
app = APIGatewayRestResolver()


@app.get("/runs/<run_id>")
def get_run(run_id: str) -> dict:
    return {"run_id": Event(run_id=run_id).run_id}


handler = logger.inject_lambda_context(metrics.log_metrics(tracer.capture_lambda_handler(app.resolve)))
"""

# Runs in the fresh interpreter: only `sys` and `time` (built in) are imported before the clock starts.
WORKER = """\
import sys, time
wall, cpu = time.perf_counter(), time.process_time()
for name in {modules!r}:
    __import__(name)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(wall, cpu, *sorted(m for m in {heavy!r} if m in sys.modules))
"""


def baseline_module(function: Function) -> str:
    imports = "".join(f"import {sdk}  # noqa: F401\n" for sdk in function.sdks)
    what = ", ".join(("Logger, Tracer, Metrics, parser", *(["event handler"] if function.handler == "api" else [])))
    if function.handler == "api":
        imports = "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n" + imports
    sdks = f"; SDKs {', '.join(function.sdks)}" if function.sdks else "; no SDK"
    body = API_BODY if function.handler == "api" else STEP_BODY
    return BASELINE_TEMPLATE.format(what=what + sdks, imports=imports, body=body)


def baseline_name(function: Function) -> str:
    return "baseline_" + ("api" if function.handler == "api" else "_".join(s.split(".")[0] for s in function.sdks))


def environment(code: Path, baseline_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and not k.startswith("POWERTOOLS_")}
    env.update(
        # As in Lambda: the function's code and its dependencies on PYTHONPATH (/var/task), no .pth file run
        # (the interpreter runs with -S: the checkout's editable-install hook stays out of the measurement).
        PYTHONPATH=os.pathsep.join([str(code), str(baseline_dir), *site.getsitepackages()]),
        LAMBDA_TASK_ROOT=str(code),  # what Powertools checks for "in Lambda" (the Tracer is then enabled)
        AWS_LAMBDA_FUNCTION_NAME="labeltune-bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="labeltune",
        POWERTOOLS_METRICS_NAMESPACE="LabelTune",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    return env


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds, perf_counter
    cpu: float  # seconds, process_time (user + system): what other load on the machine changes least
    heavy: tuple[str, ...]  # the HEAVY packages in sys.modules afterwards


def run(modules: tuple[str, ...], env: dict[str, str], cwd: Path) -> Sample:
    code = WORKER.format(modules=modules, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-S", "-X", "frozen_modules=on", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {modules} failed:\n{result.stderr[-4000:]}")
    wall, cpu, *heavy = result.stdout.split()
    return Sample(float(wall), float(cpu), tuple(heavy))


def importtime(module: str, env: dict[str, str], cwd: Path, top: int) -> list[str]:
    """labeltune's modules and third-party packages, largest cumulative import time first (one `-X importtime`
    run of `module`, so a top-level package is attributed to the labeltune module that first imported it)."""
    result = subprocess.run(
        [sys.executable, "-S", "-X", "frozen_modules=on", "-X", "importtime", "-c", f"import {module}"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].strip()
            package = name.partition(".")[0]
            if package == "labeltune" or (name == package and package not in sys.stdlib_module_names):
                rows.append((int(parts[1]), int(parts[0]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return [f"{cumulative / 1000:8.1f} ms {own / 1000:7.1f} ms  {name}" for cumulative, own, name in rows[:top]]


def median_ms(samples: list[Sample], clock: str = "wall") -> float:
    return statistics.median(getattr(sample, clock) for sample in samples) * 1000


def paired_ratio(measured: list[Sample], baseline: list[Sample], clock: str) -> float:
    """The median over the rounds of measured / baseline, each pair taken back to back in one round."""
    return statistics.median(getattr(m, clock) / getattr(b, clock) for m, b in zip(measured, baseline, strict=True))


def spread(samples: list[float]) -> float:
    quartiles = statistics.quantiles(samples, n=4)
    return (quartiles[2] - quartiles[0]) / statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="rounds (every measurement once each; median)")
    parser.add_argument("--seed", type=int, default=2026, help="the shuffle of each round")
    parser.add_argument("--only", nargs="+", metavar="HANDLER", help="measure these handlers only")
    parser.add_argument(
        "--functions",
        type=Path,
        default=FUNCTIONS,
        help="the directory holding the labeltune package to measure (default: this checkout's functions/); "
        "another version's, e.g. from `git archive`, to compare",
    )
    parser.add_argument("--importtime", action="store_true", help="also print where each handler's time goes")
    parser.add_argument("--json", help="also write the samples to this file")
    args = parser.parse_args(argv)
    if args.repeat < 3:
        parser.error("--repeat must be at least 3")
    functions = [f for f in FUNCTIONS_UNDER_TEST if not args.only or f.handler in args.only]
    if not functions:
        parser.error(f"--only: no such handler; the handlers are {[f.handler for f in FUNCTIONS_UNDER_TEST]}")

    with tempfile.TemporaryDirectory(prefix="labeltune-cold-start-") as tmp:
        baseline_dir = Path(tmp) / "baselines"
        baseline_dir.mkdir()
        for function in functions:
            (baseline_dir / f"{baseline_name(function)}.py").write_text(baseline_module(function))
        env = environment(args.functions.resolve(), baseline_dir)
        cwd = Path(tmp)

        # Per function: what each of its measurements imports, in one fresh interpreter.
        plans: dict[str, dict[str, tuple[str, ...]]] = {}
        for function in functions:
            handler = f"labeltune.handlers.{function.handler}"
            plans[function.handler] = {"handler": (handler,), "baseline": (baseline_name(function),)}
            if function.sdks:
                plans[function.handler]["handler+sdks"] = (handler, *function.sdks)

        # The bytecode cache, as a deployed build ships it: compiled once, before anything is timed.
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(args.functions / "labeltune"), str(baseline_dir)],
            env=env,
            check=True,
        )
        heavy: dict[str, set[str]] = {}  # function -> what `import handler` left in sys.modules
        for name, plan in plans.items():  # writes any .pyc still missing (site-packages) and warms the
            for kind, modules in plan.items():  # page cache; untimed
                found = set(run(modules, env, cwd).heavy)
                if kind == "handler":
                    heavy[name] = found

        samples: dict[str, dict[str, list[Sample]]] = {
            name: {kind: [] for kind in plan} for name, plan in plans.items()
        }
        rng = random.Random(args.seed)
        total = sum(len(plan) for plan in plans.values())
        print(f"{total} measurements a round x {args.repeat} rounds", flush=True)
        for round_number in range(args.repeat):
            for name in rng.sample(list(plans), len(plans)):
                for kind in rng.sample(list(plans[name]), len(plans[name])):
                    sample = run(plans[name][kind], env, cwd)
                    samples[name][kind].append(sample)
                    if kind == "handler":
                        heavy[name] |= set(sample.heavy)
            print(f"  round {round_number + 1}/{args.repeat} done", flush=True)

        explain = {}
        if args.importtime:
            for function in functions:
                explain[function.handler] = importtime(f"labeltune.handlers.{function.handler}", env, cwd, top=12)

    print(
        f"\nCold import, {args.repeat} fresh interpreters each (python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs): median ms; ratio = median over the rounds of handler / baseline, "
        f"wall clock (target <= {TARGET}); cpu: the same in CPU time, for the record"
    )
    header = (
        f"{'handler':<16} {'handler ms':>10} {'baseline ms':>11} {'ratio':>6} {'cpu':>5} | "
        f"{'+SDKs ms':>8} {'ratio':>6} {'cpu':>5} | heavy modules after `import handler`"
    )
    print(header)
    print("-" * len(header))
    failures: list[str] = []
    for function in functions:
        name = function.handler
        measured = samples[name]
        cells = [f"{median_ms(measured['handler']):>10.0f} {median_ms(measured['baseline']):>11.0f}"]
        for kind in ("handler", "handler+sdks"):
            if kind not in measured:
                cells.append(f"{'-':>8} {'-':>6} {'-':>5}")
                continue
            ratio = paired_ratio(measured[kind], measured["baseline"], "wall")
            cpu_ratio = paired_ratio(measured[kind], measured["baseline"], "cpu")
            prefix = "" if kind == "handler" else f"{median_ms(measured[kind]):>8.0f} "
            cells.append(f"{prefix}{ratio:>6.2f} {cpu_ratio:>5.2f}")
            if ratio > TARGET:
                what = "handler" if kind == "handler" else "handler + SDKs"
                failures.append(f"{name}: {what} {ratio:.2f} x the baseline (target <= {TARGET})")
        present = sorted(heavy[name])
        print(f"{name:<16} {cells[0]} {cells[1]} | {cells[2]} | {', '.join(present) if present else 'none'}")
        unneeded = sorted(set(present) - set(function.needs))
        if unneeded:
            failures.append(f"{name} imports {', '.join(unneeded)}, which its function does not need")
    print("\nwall ms per measurement (the CPU-time median after the slash):")
    for name, measured in samples.items():
        for kind, values in measured.items():
            walls = [sample.wall * 1000 for sample in values]
            noisy = (
                "  <- noisy: other load on the machine; rerun, or a larger --repeat"
                if spread(walls) > NOISY_SPREAD
                else ""
            )
            print(
                f"  {name + ' ' + kind:<30} median {median_ms(values):6.0f} / {median_ms(values, 'cpu'):4.0f}, "
                f"min {min(walls):6.0f}, max {max(walls):6.0f}, IQR / median {spread(walls):4.0%}{noisy}"
            )
    for name, lines in explain.items():
        print(f"\n-X importtime, labeltune.handlers.{name} (cumulative, own, module; largest first):")
        print(textwrap.indent("\n".join(lines), "  "))
    if args.json:
        dump = {
            name: {kind: [{"wall_s": x.wall, "cpu_s": x.cpu} for x in values] for kind, values in measured.items()}
            for name, measured in samples.items()
        }
        Path(args.json).write_text(json.dumps(dump, indent=2) + "\n")
    print()
    for failure in failures:
        print(f"MISSED: {failure}")
    print("all targets met" if not failures else f"{len(failures)} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
