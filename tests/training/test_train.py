"""A real (small) training run end to end, and the full run reproducing the bundled model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scened.imaging import load_for_model
from scened.model import load_classifier
from scened.model.runtime import BUNDLED_MODEL_DIR

SMALL_CLASSES = ("Dog", "Night", "Text document")
#: Two sources per class (4 photos of each), so that the source-held-out estimate runs.
SMALL_SOURCES = {
    "Dog": ("imagenet-sample-images", "flickr8k"),
    "Night": ("Day-Night-Classifier", "cyclegan-photos"),
    "Text document": ("ICDAR-2019-SROIE", "DocBank_samples"),
}


@pytest.fixture(scope="module")
def small_model(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    for name in SMALL_CLASSES:
        (data / name).mkdir()
        for source in SMALL_SOURCES[name]:
            pattern = f"{source}__*.jpg"
            for photo in sorted((shared_dir / "data" / "scenes" / "train" / name).glob(pattern))[
                :4
            ]:
                shutil.copy(photo, data / name / photo.name)
    out = tmp_path_factory.mktemp("model")
    result = subprocess.run(
        [sys.executable, "-m", "scened_training", "--data", str(data), "--out", str(out),
         "--epochs", "5", "--augmented-views", "1", "--classes-from-folders",
         "--cache-dir", str(tmp_path_factory.mktemp("cache"))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "validation top-1" in result.stdout
    assert "source-held-out top-1" in result.stdout
    return out


def test_writes_a_complete_model_folder(small_model: Path) -> None:
    for name in (
        "model.keras",
        "model.tflite",
        "labels.txt",
        "head.npz",
        "imagenet_scenes.tsv",
        "model.json",
        "metrics.json",
        "history.json",
    ):
        assert (small_model / name).is_file(), name
    assert tuple((small_model / "labels.txt").read_text().splitlines()) == SMALL_CLASSES
    metrics = json.loads((small_model / "metrics.json").read_text())
    assert metrics["validation_images"] == 3 * 2  # 20 % of 8, per class
    assert set(metrics["per_class"]) == set(SMALL_CLASSES)
    for entry in metrics["per_class"].values():
        assert entry["support"] == 2 and entry["train_images"] == 6
        assert set(entry) >= {"precision", "recall", "f1"}
    assert 0.0 <= metrics["top1"] <= metrics["top2"] <= 1.0
    held = metrics["source_held_out"]
    assert sum(f["photos"] for f in held["folds"]) == held["photos"] == 24
    assert len(held["folds"]) >= 2  # small sources pooled, never a whole class at once
    assert set(held["per_class"]) == set(SMALL_CLASSES)
    policy = held["precision_policy"]
    assert policy["tag_precision"] >= 0.9 or policy["untagged_share"] == 1.0
    meta = json.loads((small_model / "model.json").read_text())
    assert meta["fusion"] == metrics["fusion"]
    assert meta["policies"]["precision"]["min_probability"] == policy["min_probability"]
    for plot in ("confusion_matrix.png", "training_curves.png"):
        with Image.open(small_model / "plots" / plot) as image:
            assert image.format == "PNG" and image.width > 300


def test_keras_and_tflite_exports_agree(small_model: Path, real_photos: list[Path]) -> None:
    keras_runtime = load_classifier(small_model, runtime="keras")
    lite_runtime = load_classifier(small_model, runtime="litert")
    batch = np.stack([load_for_model(p) for p in real_photos])
    difference = np.abs(keras_runtime.predict(batch) - lite_runtime.predict(batch)).max()
    assert difference <= 1e-4
    assert keras_runtime.model_id == lite_runtime.model_id


def test_cached_features_are_reused(small_model: Path, shared_dir: Path, tmp_path: Path) -> None:
    from scened_training.data import Sample
    from scened_training.features import compute_features

    class CountingExtractor:
        calls = 0

        def __call__(self, batch: np.ndarray, training: bool = False) -> np.ndarray:
            CountingExtractor.calls += 1
            return np.full((len(batch), 1280), batch.mean(), np.float32)

    photos = sorted((shared_dir / "data" / "scenes" / "train" / "Cat").glob("*.jpg"))[:3]
    samples = [Sample(p, 0) for p in photos]
    args = {"size": 160, "variant": 1, "seed": 7, "cache_dir": tmp_path, "fingerprint": "x"}
    first = compute_features(CountingExtractor(), samples, **args)  # type: ignore[arg-type]
    again = compute_features(CountingExtractor(), samples, **args)  # type: ignore[arg-type]
    assert CountingExtractor.calls == 1
    assert np.array_equal(first, again)


@pytest.mark.slow
def test_full_training_reproduces_the_bundled_metrics(shared_dir: Path, tmp_path: Path) -> None:
    """The default model's training run, source-held-out estimate included, gives its figures."""
    bundled = json.loads((BUNDLED_MODEL_DIR / "metrics.json").read_text())
    settings = bundled["settings"]
    out = tmp_path / "model"
    result = subprocess.run(
        [sys.executable, "-m", "scened_training", "--data",
         str(shared_dir / "data" / "scenes" / "train"), "--out", str(out),
         "--seed", str(settings["seed"]), "--backbone", settings["backbone"],
         "--image-size", str(settings["input_size"]), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation_images"] == bundled["validation_images"]
    assert abs(metrics["top1"] - bundled["top1"]) <= 0.015
    assert abs(metrics["top2"] - bundled["top2"]) <= 0.015
    held, shipped = metrics["source_held_out"], bundled["source_held_out"]
    assert held["photos"] == shipped["photos"]
    assert [f["held_out"] for f in held["folds"]] == [f["held_out"] for f in shipped["folds"]]
    assert abs(held["top1"] - shipped["top1"]) <= 0.015
    assert abs(metrics["fusion"]["imagenet_weight"] - bundled["fusion"]["imagenet_weight"]) <= 0.1
    assert held["precision_policy"]["tag_precision"] >= 0.9
