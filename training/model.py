"""The scene model: normalisation, the frozen MobileNetV2 base, and the SPEC's head.

The deployed model keeps every weight at float16 precision (stored as float32 in
Keras, as float16 in the TFLite file).  That halves the shipped file and, because
the Keras model already holds exactly the values the TFLite file holds, the two
runtimes agree to float32 rounding.  BatchNorm is folded into the convolutions for
the same reason: the converter would otherwise fold it after our rounding.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from .backbone import FEATURES, IMAGENET_MEAN, IMAGENET_STD, imagenet_backbone

HIDDEN_UNITS = 256
DROPOUT = 0.5


def to_float16_precision(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to the nearest float16, kept as float32."""
    return np.asarray(values, dtype=np.float16).astype(np.float32)


def round_weights_to_float16(model: keras.Model) -> None:
    """Round every weight of ``model`` in place to float16 precision."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            round_weights_to_float16(layer)
        elif layer.get_weights():
            layer.set_weights([to_float16_precision(w) for w in layer.get_weights()])


def imagenet_scaling() -> layers.Layer:
    """``(rgb - 255*mean) / (255*std)`` as ``rgb * scale + offset``, constants at fp16."""
    scale = to_float16_precision(1.0 / IMAGENET_STD)
    offset = to_float16_precision(-IMAGENET_MEAN / IMAGENET_STD)
    return layers.Rescaling(scale=scale.tolist(), offset=offset.tolist(), name="imagenet_scaling")


def build_feature_extractor(input_size: int = 160, checkpoint: Path | None = None) -> keras.Model:
    """Raw 0-255 RGB → the 1280 pooled features of the frozen, fp16-rounded base."""
    backbone = imagenet_backbone(input_size, checkpoint, fold_batchnorm=True)
    round_weights_to_float16(backbone)
    backbone.trainable = False
    inputs = keras.Input((input_size, input_size, 3), name="rgb")
    outputs = backbone(imagenet_scaling()(inputs))
    return keras.Model(inputs, outputs, name="feature_extractor")


def build_head(num_classes: int) -> keras.Model:
    """Dense(256, relu) → Dropout(0.5) → Dense(256, relu) → Dropout(0.5) → Dense(n, softmax)."""
    inputs = keras.Input((FEATURES,), name="features")
    x = layers.Dense(HIDDEN_UNITS, activation="relu", name="head_dense_1")(inputs)
    x = layers.Dropout(DROPOUT, name="head_dropout_1")(x)
    x = layers.Dense(HIDDEN_UNITS, activation="relu", name="head_dense_2")(x)
    x = layers.Dropout(DROPOUT, name="head_dropout_2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="head_output")(x)
    return keras.Model(inputs, outputs, name="scene_head")


def compile_head(head: keras.Model, learning_rate: float = 1e-3) -> None:
    head.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy", keras.metrics.TopKCategoricalAccuracy(k=2, name="top2")],
    )


def assemble(extractor: keras.Model, head: keras.Model) -> keras.Model:
    """The whole scene model: raw RGB in, class probabilities out."""
    inputs = keras.Input(extractor.input_shape[1:], name="rgb")
    return keras.Model(inputs, head(extractor(inputs)), name="scene_model")


def save_head_weights(head: keras.Model, path: Path) -> None:
    """The head's weights as a small npz (the base is rebuilt from the ImageNet checkpoint)."""
    arrays = {f"w{i}": w for i, w in enumerate(head.get_weights())}
    np.savez_compressed(path, **arrays)


def load_head(path: Path) -> keras.Model:
    with np.load(path) as data:
        weights = [data[f"w{i}"] for i in range(len(data.files))]
    head = build_head(int(weights[-1].shape[0]))
    head.set_weights(weights)
    return head


def rebuild_model(head_path: Path, input_size: int = 160) -> keras.Model:
    """The whole Keras model from the ImageNet checkpoint and a saved head.

    A shipped model folder has no ``model.keras`` (it would double the download);
    this rebuilds exactly the same model, so that TensorFlow users and the tests
    can run it.
    """
    head = load_head(head_path)
    round_weights_to_float16(head)  # already float16 values; kept explicit
    return assemble(build_feature_extractor(input_size), head)
