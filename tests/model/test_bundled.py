"""The bundled model: its files, its Keras twin, and its accuracy through scened's own path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scened.classes import CLASSES
from scened.imaging import load_for_model
from scened.model import load_classifier
from scened.model.runtime import BUNDLED_MODEL_DIR
from scened_training.export import sha256_of


def test_bundled_files_are_small_and_consistent() -> None:
    files = sorted(p for p in BUNDLED_MODEL_DIR.iterdir() if p.is_file())
    assert sum(p.stat().st_size for p in files) < 10 * 1024 * 1024
    labels = (BUNDLED_MODEL_DIR / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert tuple(labels) == CLASSES
    meta = json.loads((BUNDLED_MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    for name in ("model.tflite", "labels.txt", "head.npz"):
        assert meta["sha256"][name] == sha256_of(BUNDLED_MODEL_DIR / name)
    card = (BUNDLED_MODEL_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert meta["id"] in card
    assert "Bridge" in card.split("## Classes it cannot have learnt")[1]
    assert "Lake" in card.split("## Classes it cannot have learnt")[1]


def test_keras_and_tflite_agree_on_real_photos(real_photos: list[Path]) -> None:
    from scened_training.model import rebuild_model

    keras_model = rebuild_model(BUNDLED_MODEL_DIR / "head.npz")
    lite = load_classifier()
    batch = np.stack([load_for_model(p) for p in real_photos])
    keras_probabilities = np.asarray(keras_model.predict(batch.astype(np.float32), verbose=0))
    lite_probabilities = lite.predict(batch)
    assert keras_probabilities.shape == lite_probabilities.shape == (len(real_photos), 36)
    assert np.abs(keras_probabilities - lite_probabilities).max() <= 1e-4


@pytest.mark.slow
def test_runtime_reproduces_validation_accuracy(shared_dir: Path) -> None:
    """The validation split through scened's decoder and LiteRT scores what training said."""
    from scened_training.classes import SPEC_CLASSES
    from scened_training.data import discover, stratified_split

    metrics = json.loads((BUNDLED_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    settings = metrics["settings"]
    samples = discover(shared_dir / "data" / "scenes" / "train", SPEC_CLASSES)
    _, val = stratified_split(samples, settings["val_fraction"], settings["seed"])
    assert len(val) == metrics["validation_images"]
    classifier = load_classifier()
    correct = 0
    for start in range(0, len(val), 32):
        chunk = val[start : start + 32]
        probabilities = classifier.predict(np.stack([load_for_model(s.path) for s in chunk]))
        correct += int((probabilities.argmax(axis=1) == [s.label for s in chunk]).sum())
    top1 = correct / len(val)
    assert abs(top1 - metrics["top1"]) <= 0.02, (top1, metrics["top1"])
