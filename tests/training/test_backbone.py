"""The Keras MobileNetV2 is a faithful copy of torchvision's: checked on its own outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scened_training.backbone import CHECKPOINT_SHA256, default_checkpoint, imagenet_backbone
from scened_training.export import sha256_of

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> dict[str, np.ndarray]:
    with np.load(shared_dir / "reference" / "mobilenet_v2_torchvision_reference_160.npz") as data:
        return {k: data[k] for k in data.files}


def test_checkpoint_is_torchvisions_file() -> None:
    assert sha256_of(default_checkpoint()) == CHECKPOINT_SHA256


@pytest.mark.parametrize("fold_batchnorm", [False, True], ids=["batchnorm", "folded"])
def test_matches_torchvision_reference(
    reference: dict[str, np.ndarray], fold_batchnorm: bool
) -> None:
    model = imagenet_backbone(160, with_logits=True, fold_batchnorm=fold_batchnorm)
    pooled, logits = model.predict(reference["inputs_nhwc"], verbose=0)
    assert np.abs(pooled - reference["pooled_features"]).max() <= TOLERANCE
    assert np.abs(logits - reference["logits"]).max() <= TOLERANCE
    assert logits.argmax(axis=1).tolist() == reference["logits"].argmax(axis=1).tolist()
    assert logits.argmax(axis=1).tolist()[:2] == [285, 967]  # Egyptian cat, espresso
