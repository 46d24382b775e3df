"""The bundled models: their files, their Keras twins, and their accuracy through scened's path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scened.classes import CLASSES
from scened.imaging import load_for_model
from scened.model.fusion import Fusion
from scened.model.imagenet_map import load_mapping
from scened.model.runtime import BUNDLED_ROOT, DEFAULT_CLASSIFIER, load_model_folder
from scened_training.export import MODEL_FILES, sha256_of

BUNDLED = sorted(p for p in BUNDLED_ROOT.iterdir() if (p / "labels.txt").is_file())


def _meta(folder: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    return meta


def test_the_models_together_stay_small() -> None:
    assert DEFAULT_CLASSIFIER in {p.name for p in BUNDLED}
    assert "scenes-mnv2" in {p.name for p in BUNDLED}  # the SPEC's design stays available
    total = sum(p.stat().st_size for p in BUNDLED_ROOT.rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_bundled_files_are_consistent(folder: Path) -> None:
    labels = (folder / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert tuple(labels) == CLASSES
    meta = _meta(folder)
    sha256 = meta["sha256"]
    assert isinstance(sha256, dict)
    for name in MODEL_FILES:
        assert sha256[name] == sha256_of(folder / name), name
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert str(meta["id"]) in card
    assert "## Photos of unseen sources (leave-one-source-out)" in card
    assert "Holiday" in card.split("## What it still cannot do")[1]  # one source: Santa
    policies = meta["policies"]
    assert isinstance(policies, dict) and set(policies["precision"]) >= {
        "min_probability", "second_probability", "class_thresholds",
    }  # fmt: skip


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_keras_and_tflite_agree_on_real_photos(folder: Path, real_photos: list[Path]) -> None:
    from scened_training.model import rebuild_model

    meta = _meta(folder)
    size = int(meta["input"]["size"])  # type: ignore[index]
    keras_model = rebuild_model(folder / "head.npz", size, str(meta["backbone"]))
    lite = load_model_folder(folder)
    batch = np.stack([load_for_model(p, size=size) for p in real_photos])
    head, logits = (np.asarray(o) for o in keras_model(batch.astype(np.float32), training=False))
    fusion = Fusion.from_json(meta["fusion"])  # type: ignore[arg-type]
    keras_probabilities = fusion.apply(head, logits, load_mapping(folder / "imagenet_scenes.tsv",
                                                                  CLASSES))  # fmt: skip
    lite_probabilities = lite.predict(batch)
    assert keras_probabilities.shape == lite_probabilities.shape == (len(real_photos), 36)
    assert np.abs(keras_probabilities - lite_probabilities).max() <= 1e-3
    assert (keras_probabilities.argmax(1) == lite_probabilities.argmax(1)).all()


@pytest.mark.slow
@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_runtime_reproduces_validation_accuracy(folder: Path, shared_dir: Path) -> None:
    """The validation split through scened's decoder and LiteRT scores what training said."""
    from scened_training.data import discover, stratified_split

    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    settings = metrics["settings"]
    samples = discover(shared_dir / "data" / "scenes" / "train", CLASSES)
    _, val = stratified_split(samples, settings["val_fraction"], settings["seed"])
    assert len(val) == metrics["validation_images"]
    classifier = load_model_folder(folder)
    size = classifier.input_size
    correct = 0
    for start in range(0, len(val), 32):
        chunk = val[start : start + 32]
        batch = np.stack([load_for_model(s.path, size=size) for s in chunk])
        probabilities = classifier.predict(batch)
        correct += int((probabilities.argmax(axis=1) == [s.label for s in chunk]).sum())
    top1 = correct / len(val)
    assert abs(top1 - metrics["top1"]) <= 0.005, (top1, metrics["top1"])  # same pixels
