"""Fixtures for the plugin tests: the photo oracle, results and the plugin manager."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from scened.classes import CLASSES
from scened.plugins import ScenedPluginManager, get_plugin_manager
from scened.types import Prediction, TagResult

from ..metadata import photo_oracle


@pytest.fixture(scope="session")
def oracle() -> ModuleType:
    """tests/metadata/photo_oracle.py (real files, exiftool as the oracle)."""
    return photo_oracle


def prediction(**probabilities: float) -> Prediction:
    """A prediction over the 36 classes; unnamed classes share what is left."""
    rest = (1.0 - sum(probabilities.values())) / (len(CLASSES) - len(probabilities))
    values = tuple(probabilities.get(name.replace(" ", "_"), rest) for name in CLASSES)
    return Prediction(probabilities=values, classes=CLASSES, model_id="test-model-1")


@pytest.fixture
def make_prediction() -> Callable[..., Prediction]:
    """``make_prediction(Beach=0.6, Text_document=0.1)``: see :func:`prediction`."""
    return prediction


@pytest.fixture
def make_result() -> Callable[..., TagResult]:
    def make(path: Path, tags: tuple[str, ...] = ("Beach", "Sky")) -> TagResult:
        return TagResult(
            path=path, tags=tags, prediction=prediction(Beach=0.6, Sky=0.3), policy="default"
        )

    return make


@pytest.fixture(scope="session")
def pm() -> ScenedPluginManager:
    return get_plugin_manager()
