"""Fixtures for the model tests."""

from __future__ import annotations

import pytest

from scened.model import load_classifier
from scened.model.runtime import FeatureClassifier, feature_classifier


@pytest.fixture(scope="module")
def local() -> FeatureClassifier:
    """The bundled model, run here: what the remote answers must equal."""
    classifier = feature_classifier(load_classifier())
    assert classifier is not None
    return classifier
