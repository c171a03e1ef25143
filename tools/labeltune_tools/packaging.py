"""What each Lambda function ships: sizes of a `sam build`, checked against the packaging targets.

`make package` runs `sam build` and then `python -m labeltune_tools.packaging .aws-sam/build`, which prints,
for every function, the unzipped and zipped size of its own code and of the layers it uses (each directory
zipped with deflate, as `sam package` uploads it and Lambda receives it), and exits 1 when a target is missed:

- the webhook function (the one serving POST /webhooks/labelbox) at most 30 MB unzipped, code and layers;
- every other function at most 120 MB (Lambda itself refuses more than 250 MiB);
- a function's code is the labeltune package and nothing else;
- every module is compiled to bytecode for the runtime, unchecked-hash (valid without file timestamps).

MB here is 10^6 bytes, the stricter reading of the targets. The function -> layers mapping is read from the
template (Globals.Function.Layers first, then the function's own), the same one tests/infra checks imports
against.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeltune_tools.embedded.template import load_template

MB = 1_000_000
WEBHOOK_PATH = "/webhooks/labelbox"
WEBHOOK_LIMIT_MB = 30
FUNCTION_LIMIT_MB = 120
RUNTIME_PACKAGE = "labeltune"
BYTECODE_TAG = "cpython-313"  # the functions' runtime, python3.13
_UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


LAYERS_DIR = "layers"
LAYER_SUFFIX = "Layer"


def layer_directory(logical_id: str) -> str:
    """The directory under layers/ a layer resource is built from: <Name>Layer is layers/<name> (lowercase),
    the convention layers/Makefile's `build-%Layer` target follows."""
    if not logical_id.endswith(LAYER_SUFFIX) or logical_id == LAYER_SUFFIX:
        raise ValueError(f"layer {logical_id!r}: layer logical ids are <Name>{LAYER_SUFFIX}")
    return logical_id.removesuffix(LAYER_SUFFIX).lower()


def layer_requirements_file(root: Path, logical_id: str) -> Path:
    """layers/<name>/requirements.txt of the layer resource `logical_id`, under the checkout `root`."""
    return root / LAYERS_DIR / layer_directory(logical_id) / "requirements.txt"


def layer_resources(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's AWS::Serverless::LayerVersion resources."""
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::LayerVersion"}


def _functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"}


def _layer_id(entry: Any) -> str:
    if isinstance(entry, dict) and set(entry) == {"Ref"}:
        return str(entry["Ref"])
    raise ValueError(f"a layer given as {entry!r}: only !Ref to a layer of this template is supported")


def function_layers(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """Function logical id -> the logical ids of its layers, in Lambda's order (the Globals' come first)."""
    shared = [_layer_id(e) for e in template.get("Globals", {}).get("Function", {}).get("Layers", [])]
    return {
        name: shared + [_layer_id(e) for e in resource.get("Properties", {}).get("Layers", [])]
        for name, resource in _functions(template).items()
    }


def webhook_functions(template: Mapping[str, Any]) -> set[str]:
    """The functions an HttpApi event routes the Labelbox webhook to."""
    return {
        name
        for name, resource in _functions(template).items()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event.get("Type") == "HttpApi" and event.get("Properties", {}).get("Path") == WEBHOOK_PATH
    }


def _files(root: Path) -> Iterable[Path]:
    for directory, _dirs, names in os.walk(root):
        for name in sorted(names):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path


def unzipped_size(root: Path) -> int:
    """Bytes of the regular files under root: what Lambda counts against its unzipped limit."""
    return sum(path.stat().st_size for path in _files(root))


def zipped_size(root: Path) -> int:
    """Bytes of root zipped with deflate (paths relative to root), as `sam package` uploads it."""
    with tempfile.TemporaryDirectory(prefix="labeltune-size-") as scratch:
        archive = Path(scratch, "artifact.zip")
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for path in _files(root):
                zipped.write(path, path.relative_to(root).as_posix())
        return archive.stat().st_size


def bytecode_problems(root: Path) -> list[str]:
    """Modules under root without unchecked-hash bytecode for the runtime (relative paths)."""
    problems = []
    for path in _files(root):
        if path.suffix != ".py":
            continue
        compiled = path.parent / "__pycache__" / f"{path.stem}.{BYTECODE_TAG}.pyc"
        relative = path.relative_to(root).as_posix()
        if not compiled.is_file():
            problems.append(f"{relative}: no {compiled.name}")
            continue
        with compiled.open("rb") as handle:
            flags = int.from_bytes(handle.read(8)[4:8], "little")
        if flags != _UNCHECKED_HASH:
            problems.append(f"{relative}: {compiled.name} is not unchecked-hash")
    return problems


@dataclass(frozen=True)
class Artifact:
    """One built directory (a function's code or a layer) and its sizes."""

    name: str
    path: Path
    unzipped: int
    zipped: int
    bytecode_problems: tuple[str, ...] = ()

    @classmethod
    def measure(cls, name: str, path: Path) -> Artifact:
        if not path.is_dir():
            raise FileNotFoundError(f"{name}: no built directory {path} (run sam build first)")
        return cls(name, path, unzipped_size(path), zipped_size(path), tuple(bytecode_problems(path)))


@dataclass(frozen=True)
class FunctionPackage:
    """A function's code and its layers, as Lambda counts them (the sum over all of them)."""

    name: str
    code: Artifact
    layers: tuple[Artifact, ...]
    limit_mb: int
    problems: tuple[str, ...] = field(default=())

    @property
    def layers_unzipped(self) -> int:
        return sum(layer.unzipped for layer in self.layers)

    @property
    def unzipped(self) -> int:
        return self.code.unzipped + self.layers_unzipped

    @property
    def zipped(self) -> int:
        return self.code.zipped + sum(layer.zipped for layer in self.layers)

    @property
    def within_limit(self) -> bool:
        return self.unzipped <= self.limit_mb * MB

    @property
    def ok(self) -> bool:
        return self.within_limit and not self.problems


def _artifact_path(build_dir: Path, resource: Mapping[str, Any], key: str, default: Any = None) -> Path:
    location = resource.get("Properties", {}).get(key, default)
    if not isinstance(location, str):
        raise ValueError(f"{key} {location!r} is not a built directory")
    return build_dir / location


def measure_build(build_dir: Path) -> list[FunctionPackage]:
    """Every function of build_dir/template.yaml (a `sam build` output) with its layers, measured."""
    template = load_template(build_dir / "template.yaml")
    resources = template["Resources"]
    default_code = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    webhook = webhook_functions(template)
    layers: dict[str, Artifact] = {}
    packages = []
    for name, layer_ids in function_layers(template).items():
        code = Artifact.measure(name, _artifact_path(build_dir, resources[name], "CodeUri", default_code))
        for layer_id in layer_ids:
            if layer_id not in layers:
                path = _artifact_path(build_dir, resources[layer_id], "ContentUri")
                layers[layer_id] = Artifact.measure(layer_id, path)
        used = tuple(layers[layer_id] for layer_id in layer_ids)
        problems = []
        extra = sorted(p.name for p in code.path.iterdir() if p.name != RUNTIME_PACKAGE)
        if extra:
            problems.append(f"code has more than the {RUNTIME_PACKAGE} package: {', '.join(extra)}")
        for artifact in (code, *used):
            if artifact.bytecode_problems:
                sample = "; ".join(artifact.bytecode_problems[:3])
                problems.append(f"{artifact.name}: {len(artifact.bytecode_problems)} modules lack bytecode ({sample})")
        limit = WEBHOOK_LIMIT_MB if name in webhook else FUNCTION_LIMIT_MB
        packages.append(FunctionPackage(name, code, used, limit, tuple(problems)))
    return packages


def _mb(size: int) -> str:
    return f"{size / MB:.1f}"


def format_report(packages: Sequence[FunctionPackage]) -> str:
    """The size table, one line per function, then the layers, then what missed its target."""
    header = ("function", "layers", "code MB", "layers MB", "unzipped MB", "zipped MB", "target MB", "status")
    rows = [
        (
            p.name,
            " + ".join(layer.name for layer in p.layers) or "-",
            _mb(p.code.unzipped),
            _mb(p.layers_unzipped),
            _mb(p.unzipped),
            _mb(p.zipped),
            f"<= {p.limit_mb}",
            "ok" if p.ok else "MISSED",
        )
        for p in packages
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    numeric = {2, 3, 4, 5}

    def line(row: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    out = ["Sizes in MB (10^6 bytes); unzipped and zipped (deflate) are the function's code plus its layers.", ""]
    out += [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows), ""]
    layers = {layer.name: layer for p in packages for layer in p.layers}
    out.append("layers: " + ", ".join(f"{n} {_mb(a.unzipped)} / {_mb(a.zipped)} zipped" for n, a in layers.items()))
    for p in packages:
        if not p.within_limit:
            over = p.unzipped - p.limit_mb * MB
            out.append(
                f"MISSED {p.name}: {_mb(p.unzipped)} MB unzipped, {_mb(over)} MB over its {p.limit_mb} MB target"
            )
        out += [f"MISSED {p.name}: {problem}" for problem in p.problems]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labeltune_tools.packaging", description="Sizes of a sam build, per function."
    )
    parser.add_argument("build_dir", nargs="?", type=Path, default=Path(".aws-sam/build"))
    args = parser.parse_args(argv)
    try:
        packages = measure_build(args.build_dir)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"packaging: {error}", file=sys.stderr)
        return 2
    print(format_report(packages))
    return 0 if all(p.ok for p in packages) else 1


if __name__ == "__main__":
    sys.exit(main())
