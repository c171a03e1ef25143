"""Build one Lambda layer of template.yaml: the wheels its requirements need, for the functions' runtime.

`sam build` runs this through layers/Makefile (BuildMethod: makefile), with the interpreter the functions
run on (python3.13; `LAMBDA_PYTHON` names another): it needs only that interpreter's standard library and
pip, so it works in SAM's build container (`sam build --use-container`) as well as on the host.

1. One resolution for the whole application: every layer's requirements (layers/*/requirements.txt) are
   resolved together by pip (`--dry-run --report`) for the target, CPython 3.13 on arm64 Linux (Amazon Linux
   2023, glibc 2.34: wheels up to manylinux_2_34_aarch64), wheels only. Two layers of one function can
   therefore never carry two versions of a package.
2. The layer's share of it: the dependency closure of its own requirements, minus what the Lambda runtime
   provides (boto3, botocore, s3transfer: not shipped, and not followed into their own dependencies), and,
   for every layer but the base one, minus the base layer's closure (every function has the base layer).
3. Those exact versions are installed (`--no-deps`) into the layer's `python/` directory, which Lambda puts
   on sys.path, console scripts are dropped, and everything is compiled to bytecode with
   `--invalidation-mode unchecked-hash`: a zip keeps no useful timestamps, so timestamp-checked .pyc files
   would be recompiled (in memory, at every cold start, /opt being read-only).

A requirement published only as an sdist (such as rouge-score) is built into a local wheel first; that works for
pure-Python projects, and a project with C extensions and no arm64 wheel fails the resolution, as it should.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from packaging.requirements import Requirement
except ImportError:  # the build interpreter has pip, not necessarily packaging: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
BASE_LAYER = "core"
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})  # in every Lambda Python runtime
PYTHON_VERSION = "3.13"
GLIBC_MINOR = 34  # Amazon Linux 2023
ARCH = "aarch64"
TARGET_ENVIRONMENT = {  # PEP 508 marker values of the python3.13 arm64 runtime
    "implementation_name": "cpython",
    "implementation_version": "3.13.0",
    "os_name": "posix",
    "platform_machine": ARCH,
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.13.0",
    "python_version": PYTHON_VERSION,
    "sys_platform": "linux",
}


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def target_arguments() -> list[str]:
    """pip's options for wheels of the runtime: every manylinux tag glibc 2.34 on aarch64 accepts."""
    platforms = [f"manylinux_2_{minor}_{ARCH}" for minor in range(GLIBC_MINOR, 16, -1)]
    platforms.append(f"manylinux2014_{ARCH}")
    options = [f"--platform={platform}" for platform in platforms]
    return [*options, f"--python-version={PYTHON_VERSION}", "--implementation=cp", "--only-binary=:all:"]


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a requirements file (no comments, no options)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def layer_requirements(layers_dir: Path) -> dict[str, list[str]]:
    """Layer name (its directory) -> its requirement lines, for every layers/<name>/requirements.txt."""
    return {path.parent.name: read_requirements(path) for path in sorted(layers_dir.glob("*/requirements.txt"))}


@dataclass(frozen=True)
class Resolved:
    """One distribution of the resolution: its version and its declared requirements (PEP 508 strings)."""

    version: str
    requires: tuple[str, ...]


def parse_report(report: Mapping[str, Any]) -> dict[str, Resolved]:
    """Canonical name -> Resolved, from pip's installation report (`pip install --report`)."""
    resolved = {}
    for item in report["install"]:
        metadata = item["metadata"]
        resolved[canonical(metadata["name"])] = Resolved(metadata["version"], tuple(metadata.get("requires_dist", [])))
    return resolved


def closure(
    roots: Iterable[str],
    resolved: Mapping[str, Resolved],
    stop: Iterable[str] = RUNTIME_PROVIDED,
    environment: Mapping[str, str] = TARGET_ENVIRONMENT,
) -> set[str]:
    """Canonical names of the distributions `roots` (requirement strings) need, extras included.

    Names in `stop` are neither included nor followed. Markers are evaluated for `environment` (the target
    runtime's by default; values it leaves out are the running interpreter's).
    """
    stopped = {canonical(name) for name in stop}
    seen: dict[str, set[str]] = {}  # name -> extras already followed
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonical(requirement.name)
        if name in stopped:
            continue
        if name not in resolved:
            raise SystemExit(f"build_layer: {requirement} is needed on the target but was not resolved")
        extras = {""} | set(requirement.extras)
        done = seen.setdefault(name, set())
        if extras <= done:
            continue
        done |= extras
        for text in resolved[name].requires:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({**environment, "extra": e}) for e in sorted(extras)):
                pending.append(dependency)
    return set(seen)


def layer_contents(
    layer: str, requirements: Mapping[str, list[str]], resolved: Mapping[str, Resolved]
) -> dict[str, str]:
    """Canonical name -> version of what `layer` ships: its closure, less the base layer's (unless it is it)."""
    if layer not in requirements:
        raise SystemExit(f"build_layer: no layers/{layer}/requirements.txt (layers: {sorted(requirements)})")
    names = closure(requirements[layer], resolved)
    if layer != BASE_LAYER:
        names -= closure(requirements.get(BASE_LAYER, []), resolved)
    return {name: resolved[name].version for name in sorted(names)}


def _pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments]
    print("build_layer:", " ".join(command[:6]), "...", flush=True)
    subprocess.run(command, check=True)


def _requirement_file(lines: Iterable[str], path: Path) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def resolve(lines: list[str], work: Path) -> tuple[dict[str, Resolved], Path]:
    """Resolve `lines` for the target; returns the resolution and the wheelhouse of locally built wheels."""
    wheelhouse = work / "wheelhouse"
    wanted = _requirement_file(lines, work / "all-requirements.txt")
    # Wheels of the top-level requirements, built here from an sdist where a project publishes no wheel.
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheelhouse), "--requirement", str(wanted))
    report = work / "report.json"
    _pip(
        "install", "--quiet", "--dry-run", "--ignore-installed", "--report", str(report),
        *target_arguments(), "--find-links", str(wheelhouse), "--requirement", str(wanted),
    )  # fmt: skip
    return parse_report(json.loads(report.read_text(encoding="utf-8"))), wheelhouse


def install(pins: Mapping[str, str], into: Path, wheelhouse: Path, work: Path) -> None:
    """Install exactly `pins` into `into` and compile it to unchecked-hash bytecode."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if pins:
        pinned = _requirement_file((f"{name}=={version}" for name, version in pins.items()), work / "pins.txt")
        _pip(
            "install", "--quiet", "--no-deps", "--no-compile", "--target", str(into),
            *target_arguments(), "--find-links", str(wheelhouse), "--requirement", str(pinned),
        )  # fmt: skip
    shutil.rmtree(into / "bin", ignore_errors=True)  # console scripts name the build machine's interpreter
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(into)],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--layer", required=True, help="the layer's directory under layers/ (e.g. core)")
    parser.add_argument("--into", required=True, type=Path, help="where its packages go: $ARTIFACTS_DIR/python")
    parser.add_argument("--layers-dir", type=Path, default=HERE, help="the directory of the layers' requirements")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != tuple(int(part) for part in PYTHON_VERSION.split(".")):
        raise SystemExit(
            f"build_layer: run with python{PYTHON_VERSION} (the functions' runtime), not {sys.version.split()[0]}: "
            "put it on PATH (pyenv: PYENV_VERSION=3.13.x), set LAMBDA_PYTHON, or use `sam build --use-container`"
        )
    requirements = layer_requirements(args.layers_dir)
    union = sorted({line for lines in requirements.values() for line in lines})
    with tempfile.TemporaryDirectory(prefix="labeltune-layer-") as scratch:
        work = Path(scratch)
        resolved, wheelhouse = resolve(union, work)
        pins = layer_contents(args.layer, requirements, resolved)
        print(f"build_layer: {args.layer}: " + ", ".join(f"{n}=={v}" for n, v in pins.items()), flush=True)
        install(pins, args.into, wheelhouse, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
