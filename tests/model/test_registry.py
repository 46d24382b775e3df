"""Classifiers are plugins: a third-party model registered through the hook tags a library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scened import hookimpl
from scened.config import parse_config
from scened.daemon.service import classifier_from_config, run_library, settings_for
from scened.errors import ModelError, PluginError
from scened.hookspecs import RegisterClassifier
from scened.model.registry import (
    DEFAULT_CLASSIFIER,
    ClassifierOptions,
    ClassifierSpec,
    build_classifier,
    registered_classifiers,
)
from scened.model.runtime import BUNDLED_ROOT, Classifier
from scened.plugins import ScenedPluginManager, get_plugin_manager

from ..metadata.photo_oracle import exiftool, values

LABELS = ("Warm", "Cool")


class WarmCoolClassifier:
    """A tiny third-party model: red-dominant photos are Warm, blue-dominant Cool."""

    classes = LABELS
    input_size = 32
    model_id = "warm-cool-1"

    def __init__(self, options: ClassifierOptions) -> None:
        self.options = options

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert batch.shape[1:] == (32, 32, 3)
        means = batch.reshape(len(batch), -1, 3).mean(axis=1)
        warm = (means[:, 0] > means[:, 2]).astype(np.float32)
        return np.stack([0.05 + 0.9 * warm, 0.95 - 0.9 * warm], axis=1)


class WarmCoolPlugin:
    @hookimpl
    def register_classifiers(self, register: RegisterClassifier) -> None:
        register("warm-cool", ClassifierSpec(32, LABELS, WarmCoolClassifier, "red vs blue"))


@pytest.fixture
def pm() -> ScenedPluginManager:
    manager = get_plugin_manager()
    manager.register(WarmCoolPlugin(), name="warm-cool-plugin")
    return manager


def test_bundled_models_register_through_the_hook(pm: ScenedPluginManager) -> None:
    specs = registered_classifiers(pm)
    bundled = {p.name for p in BUNDLED_ROOT.iterdir() if (p / "labels.txt").is_file()}
    assert DEFAULT_CLASSIFIER in bundled
    assert bundled | {"warm-cool"} == set(specs)
    for name in bundled:
        classifier = build_classifier(pm, name)
        assert classifier.classes == specs[name].labels
        assert classifier.input_size == specs[name].input_size


def test_a_third_party_model_tags_a_library(pm: ScenedPluginManager, tmp_path: Path) -> None:
    library = tmp_path / "photos"
    library.mkdir()
    Image.new("RGB", (120, 80), (230, 40, 20)).save(library / "red.jpg", quality=90)
    Image.new("RGB", (120, 80), (20, 40, 230)).save(library / "blue.jpg", quality=90)
    config = parse_config(
        {
            "state_dir": str(tmp_path / "state"),
            "model": {"name": "warm-cool"},
            "libraries": [{"path": str(library), "name": "lib",
                           "policy": {"type": "threshold", "rename": {"Warm": "Warm tones"}}}],
        },
        None,
    )  # fmt: skip
    classifier: Classifier = classifier_from_config(config, pm)
    assert classifier.model_id == "warm-cool-1"
    summary = run_library(
        config.libraries[0], config=config, classifier=classifier, pm=pm,
        settings=settings_for(config, dry_run=False),
    )  # fmt: skip
    assert summary.ok and summary.tagged == 2
    assert values(exiftool(library / "red.jpg"), "XMP-dc:Subject") == ["Warm tones"]
    assert values(exiftool(library / "blue.jpg"), "XMP-dc:Subject") == ["Cool"]


def test_unknown_names_and_broken_factories_are_one_line_errors(
    pm: ScenedPluginManager,
) -> None:
    with pytest.raises(ModelError, match=r"unknown model name 'nope' \(registered: .*warm-cool"):
        build_classifier(pm, "nope")

    class Broken:
        @hookimpl
        def register_classifiers(self, register: RegisterClassifier) -> None:
            register("broken", ClassifierSpec(32, LABELS, _explode))
            register("liar", ClassifierSpec(32, ("A", "B"), WarmCoolClassifier))

    pm.register(Broken(), name="broken-plugin")
    with pytest.raises(PluginError, match="model 'broken' could not be loaded: OSError: gone"):
        build_classifier(pm, "broken")
    with pytest.raises(ModelError, match="other labels than it registered"):
        build_classifier(pm, "liar")


def _explode(options: ClassifierOptions) -> Classifier:
    raise OSError("gone")
