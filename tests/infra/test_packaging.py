"""The packaging: the size report's arithmetic on a small fake `sam build` output, the function build
(functions/Makefile) shipping the labeltune package alone, compiled, and the layer build's choice of what
each layer ships (layers/build_layer.py) on a fake pip resolution. No sam, no network."""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labeltune_tools import packaging
from labeltune_tools.packaging import (
    MB,
    bytecode_problems,
    format_report,
    function_layers,
    layer_directory,
    main,
    measure_build,
    unzipped_size,
    webhook_functions,
    zipped_size,
)

from .conftest import ROOT
from .layers import load_build_layer

BUILT_TEMPLATE = """\
Globals:
  Function:
    Runtime: python3.13
    CodeUri: functions/
    Layers:
      - Ref: CoreLayer
Resources:
  CoreLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: CoreLayer
  SdkLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: SdkLayer
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ApiFunction
      Handler: labeltune.handlers.api.handler
      Events:
        Hook:
          Type: HttpApi
          Properties:
            Method: POST
            Path: /webhooks/labelbox
  WorkFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: WorkFunction
      Handler: labeltune.handlers.work.handler
      Layers:
        - !Ref SdkLayer
"""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _incompressible(size: int) -> bytes:
    return os.urandom(size)


def _fake_build(root: Path, *, core: int, sdk: int, code: int) -> Path:
    """A sam build directory: two functions (one the webhook's), a shared and an SDK layer. No .py files, so
    every size is known to the byte."""
    build = root / "build"
    _write(build / "template.yaml", BUILT_TEMPLATE.encode())
    for function in ("ApiFunction", "WorkFunction"):
        _write(build / function / "labeltune" / "catalog.json", b"{}" * (code // 2))
    _write(build / "CoreLayer" / "python" / "core" / "blob.bin", _incompressible(core))
    _write(build / "SdkLayer" / "python" / "sdk" / "zeros.bin", bytes(sdk))  # compresses to almost nothing
    return build


def test_the_report_adds_each_functions_code_and_layers(tmp_path: Path) -> None:
    build = _fake_build(tmp_path, core=300_000, sdk=2_000_000, code=10_000)
    packages = {p.name: p for p in measure_build(build)}
    api, work = packages["ApiFunction"], packages["WorkFunction"]
    assert [layer.name for layer in api.layers] == ["CoreLayer"]
    assert [layer.name for layer in work.layers] == ["CoreLayer", "SdkLayer"]
    assert api.code.unzipped == 10_000 and api.layers_unzipped == 300_000 and api.unzipped == 310_000
    assert work.unzipped == 10_000 + 300_000 + 2_000_000
    # Zipped: each artifact zipped on its own (as uploaded), then added up.
    core, sdk = api.layers[0], work.layers[1]
    assert core.zipped > 300_000  # random bytes do not compress: deflate only adds its headers
    assert sdk.zipped < 20_000  # two megabytes of zeros do
    assert api.zipped == api.code.zipped + core.zipped
    assert work.zipped == work.code.zipped + core.zipped + sdk.zipped
    assert (api.limit_mb, work.limit_mb) == (30, 120)  # the webhook's function has the tighter target
    assert api.ok and work.ok


def test_sizes_are_bytes_of_regular_files_and_deflate_zips(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "one.txt", b"x" * 1234)
    _write(tmp_path / "a" / "deep" / "two.txt", b"y" * 766)
    (tmp_path / "a" / "empty").mkdir()
    assert unzipped_size(tmp_path / "a") == 2000
    zipped = zipped_size(tmp_path / "a")
    assert 0 < zipped < 2000
    archive = tmp_path / "check.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(tmp_path / "a" / "one.txt", "one.txt")
        z.write(tmp_path / "a" / "deep" / "two.txt", "deep/two.txt")
    assert zipped == archive.stat().st_size


def test_a_missed_target_is_reported_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _fake_build(tmp_path, core=1_500_000, sdk=10, code=10)
    monkeypatch.setattr(packaging, "WEBHOOK_LIMIT_MB", 1)  # 1.5 MB of core layer: over a 1 MB target
    assert main([str(build)]) == 1
    out = capsys.readouterr().out
    assert "MISSED ApiFunction: 1.5 MB unzipped, 0.5 MB over its 1 MB target" in out
    assert "WorkFunction" in out and "MISSED WorkFunction" not in out
    monkeypatch.setattr(packaging, "WEBHOOK_LIMIT_MB", 2)
    assert main([str(build)]) == 0
    assert main([str(tmp_path / "nowhere")]) == 2


def test_code_beside_the_runtime_package_or_without_bytecode_fails(tmp_path: Path) -> None:
    build = _fake_build(tmp_path, core=10, sdk=10, code=10)
    _write(build / "WorkFunction" / "tests" / "test_x.py", b"assert True\n")
    _write(build / "WorkFunction" / "labeltune" / "module.py", b"VALUE = 1\n")
    work = {p.name: p for p in measure_build(build)}["WorkFunction"]
    assert not work.ok
    assert any("more than the labeltune package: tests" in problem for problem in work.problems)
    assert any("2 modules lack bytecode" in problem for problem in work.problems)
    assert "MISSED WorkFunction" in format_report([work])


def test_bytecode_must_be_unchecked_hash_for_the_runtime(tmp_path: Path) -> None:
    source = tmp_path / "pkg" / "mod.py"
    _write(source, b"VALUE = 1\n")
    assert bytecode_problems(tmp_path) == ["pkg/mod.py: no mod.cpython-313.pyc"]
    compiled = source.parent / "__pycache__" / "mod.cpython-313.pyc"
    py_compile.compile(str(source), cfile=str(compiled), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    assert bytecode_problems(tmp_path) == ["pkg/mod.py: mod.cpython-313.pyc is not unchecked-hash"]
    py_compile.compile(
        str(source), cfile=str(compiled), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    assert bytecode_problems(tmp_path) == []


def test_layers_and_the_webhook_function_come_from_the_template(template: dict[str, Any]) -> None:
    layers = function_layers(template)
    assert layers["ApiFunction"] == ["CoreLayer"]  # the webhook: the core layer alone
    assert layers["EvaluateFunction"][0] == "CoreLayer"
    assert webhook_functions(template) == {"ApiFunction"}
    assert layer_directory("OpenAILayer") == "openai"
    with pytest.raises(ValueError, match="<Name>Layer"):
        layer_directory("Layer")


def test_the_function_build_ships_the_labeltune_package_alone_compiled(tmp_path: Path) -> None:
    """functions/Makefile as sam build runs it: in a copy of functions/ that carries a dev venv's
    __pycache__, stray files and (say) a requirements file; only labeltune comes out, all of it compiled."""
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT / "functions", scratch, ignore=shutil.ignore_patterns("__pycache__"))
    _write(scratch / "requirements.txt", b"numpy\n")
    _write(scratch / "labeltune" / "__pycache__" / "removed.cpython-39.pyc", b"stale")
    _write(scratch / "labeltune.egg-info" / "PKG-INFO", b"Name: labeltune\n")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    result = subprocess.run(
        ["make", "--no-print-directory", "-e", "-f", str(scratch / "Makefile"), "build-EvaluateFunction"],
        cwd=scratch,
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), "LAMBDA_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in artifacts.iterdir()] == ["labeltune"]
    sources = sorted(p.relative_to(artifacts) for p in artifacts.rglob("*") if p.is_file() and p.suffix != ".pyc")
    expected = sorted(
        p.relative_to(ROOT / "functions")
        for p in (ROOT / "functions" / "labeltune").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert sources == expected  # the package, file for file
    tag = sys.implementation.cache_tag
    compiled = list(artifacts.rglob("*.pyc"))
    assert compiled and all(p.name.endswith(f".{tag}.pyc") for p in compiled)  # no stale bytecode came along
    modules = list(artifacts.rglob("*.py"))
    assert len(compiled) == len(modules)
    flags = {int.from_bytes(p.read_bytes()[4:8], "little") for p in compiled}
    assert flags == {0b01}  # hash-based, unchecked


def test_every_layer_has_a_build_target(template: dict[str, Any]) -> None:
    for layer in packaging.layer_resources(template):
        result = subprocess.run(
            ["make", "-n", "-f", str(ROOT / "layers" / "Makefile"), f"build-{layer}", "ARTIFACTS_DIR=/artifacts"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert f"--layer {layer_directory(layer)}" in " ".join(result.stdout.split()), result.stdout
        assert '--into "/artifacts/python"' in result.stdout


# ---------------------------------------------------------------- the layer build's selection

build_layer = load_build_layer()


def _item(name: str, version: str, *requires: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}}


REPORT = {
    "install": [
        _item(
            "Top",
            "1.0",
            "shared>=1",
            "windows-only; sys_platform == 'win32'",
            "Extra_Dep; extra == 'x'",
            "botocore>=1",
            "old-backport; python_version < '3.11'",
        ),
        _item("shared", "2.0"),
        _item("extra-dep", "3.0", "deep"),
        _item("deep", "4.0"),
        _item("botocore", "1.40", "jmespath", "urllib3"),
        _item("jmespath", "1.0"),
        _item("urllib3", "2.0"),
        _item("sdk", "5.0", "shared", "arm-accelerator; platform_machine == 'aarch64'", "urllib3"),
        _item("arm-accelerator", "6.0"),
    ]
}


def test_a_layer_ships_its_closure_for_the_target_less_the_runtime_and_the_core_layer() -> None:
    resolved = build_layer.parse_report(REPORT)
    requirements = {"core": ["top[x]==1.0"], "sdk": ["sdk==5.0"]}
    core = build_layer.layer_contents("core", requirements, resolved)
    # Markers evaluated for python3.13 on arm64 Linux; botocore (the runtime's) neither shipped nor followed.
    assert core == {"deep": "4.0", "extra-dep": "3.0", "shared": "2.0", "top": "1.0"}
    sdk = build_layer.layer_contents("sdk", requirements, resolved)
    # shared is the core layer's; urllib3 is the SDK's own need, though botocore needs it too.
    assert sdk == {"arm-accelerator": "6.0", "sdk": "5.0", "urllib3": "2.0"}
    with pytest.raises(SystemExit, match="no layers/missing"):
        build_layer.layer_contents("missing", requirements, resolved)
    with pytest.raises(SystemExit, match="was not resolved"):
        build_layer.closure(["unknown"], resolved)


def test_the_layer_build_asks_pip_for_the_runtimes_wheels() -> None:
    arguments = build_layer.target_arguments()
    assert "--platform=manylinux_2_34_aarch64" in arguments  # Amazon Linux 2023's glibc
    assert "--platform=manylinux2014_aarch64" in arguments
    assert {"--python-version=3.13", "--implementation=cp", "--only-binary=:all:"} <= set(arguments)
    assert build_layer.read_requirements(ROOT / "layers" / "core" / "requirements.txt")[0].startswith(
        "aws-lambda-powertools"
    )


def test_mb_is_a_million_bytes() -> None:
    assert MB == 10**6
