"""Fixtures for the metadata tests: a private metadata worker and the photo oracle."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from scened.metadata.client import MetadataWorker
from scened.metadata.tagger import KeywordWriter

from . import photo_oracle


@pytest.fixture(scope="session")
def oracle() -> ModuleType:
    module = photo_oracle
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
