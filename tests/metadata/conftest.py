"""Fixtures for the metadata tests: a private metadata worker and the photo oracle."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from scened.metadata.client import MetadataWorker
from scened.metadata.tagger import KeywordWriter

ORACLE = "photo_oracle.py"


@pytest.fixture(scope="session")
def oracle() -> ModuleType:
    name = "scened_tests_photo_oracle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(ORACLE))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    module = sys.modules[name]
    if not module.exiftool_available():
        pytest.fail("exiftool is needed as the oracle for metadata tests (apt install exiftool)")
    return module


@pytest.fixture(scope="module")
def worker() -> Iterator[MetadataWorker]:
    worker = MetadataWorker(timeout=30)
    yield worker
    worker.close()


@pytest.fixture
def writer(worker: MetadataWorker) -> KeywordWriter:
    return KeywordWriter(worker)
