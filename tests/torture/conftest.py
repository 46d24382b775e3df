"""Fixtures for the torture tests (the helpers themselves are in torture_helpers.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent


def _load_helpers() -> ModuleType:
    name = "torture_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "torture_helpers.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _load_helpers()
