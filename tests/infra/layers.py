"""layers/build_layer.py for the tests: it runs under the build's python3.13 with no labeltune code, so it is
loaded from its file rather than imported as a package module."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .conftest import ROOT

BUILD_LAYER_PATH = ROOT / "layers" / "build_layer.py"


def load_build_layer() -> ModuleType:
    name = "labeltune_build_layer"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BUILD_LAYER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no layers/__pycache__: sam build's cache hashes the layers/ directory
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module
