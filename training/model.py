"""The scene model: normalisation, a frozen ImageNet backbone, and the scene head.

The exported model has two outputs: the head's class probabilities and the
backbone's own ImageNet logits; ``scened.model.fusion`` combines them at tagging
time (and at training time, to choose how) with the mapping table and settings
stored beside the model.

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

from .backbone import FEATURES
from .backbones import Backbone, get_backbone

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


def input_scaling(backbone: Backbone) -> layers.Layer:
    """The backbone's normalisation as ``rgb * scale + offset``, constants at fp16."""
    scale = to_float16_precision(np.array(backbone.scale))
    offset = to_float16_precision(np.array(backbone.offset))
    return layers.Rescaling(scale=scale.tolist(), offset=offset.tolist(), name="input_scaling")


def build_feature_extractor(
    input_size: int = 160, checkpoint: Path | None = None, backbone: str = "mobilenet_v2"
) -> keras.Model:
    """Raw 0-255 RGB → the 1280 pooled features of the frozen, fp16-rounded base."""
    spec = get_backbone(backbone)
    network = spec.build(input_size, checkpoint)
    round_weights_to_float16(network)
    network.trainable = False
    inputs = keras.Input((input_size, input_size, 3), name="rgb")
    outputs = network(input_scaling(spec)(inputs))
    return keras.Model(inputs, outputs, name="feature_extractor")


def imagenet_classifier(
    backbone: str = "mobilenet_v2", checkpoint: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The backbone's ImageNet classifier ``(1280, 1000)`` and bias, at fp16 precision."""
    weight, bias = get_backbone(backbone).classifier(checkpoint)
    return to_float16_precision(weight), to_float16_precision(bias)


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


def assemble(
    extractor: keras.Model, head: keras.Model, classifier: tuple[np.ndarray, np.ndarray]
) -> keras.Model:
    """The whole scene model: raw RGB in; head probabilities and ImageNet logits out."""
    inputs = keras.Input(extractor.input_shape[1:], name="rgb")
    features = extractor(inputs)
    imagenet = layers.Dense(1000, name="imagenet_logits")
    logits = imagenet(features)
    imagenet.set_weights(list(classifier))
    return keras.Model(inputs, [head(features), logits], name="scene_model")


def save_head_weights(head: keras.Model, path: Path) -> None:
    """The head's weights as a small npz (the base is rebuilt from the ImageNet checkpoint).

    Weights that are float16 values already (the shipped precision) are stored as
    float16: exactly the same numbers in half the bytes.
    """
    arrays = {}
    for i, weight in enumerate(head.get_weights()):
        half = weight.astype(np.float16)
        arrays[f"w{i}"] = half if np.array_equal(half.astype(np.float32), weight) else weight
    np.savez_compressed(path, **arrays)


def load_head(path: Path) -> keras.Model:
    with np.load(path) as data:
        weights = [data[f"w{i}"].astype(np.float32) for i in range(len(data.files))]
    head = build_head(int(weights[-1].shape[0]))
    head.set_weights(weights)
    return head


def rebuild_model(
    head_path: Path, input_size: int = 160, backbone: str = "mobilenet_v2"
) -> keras.Model:
    """The whole Keras model from the ImageNet checkpoint and a saved head.

    A shipped model folder has no ``model.keras`` (it would double the download);
    this rebuilds exactly the same model, so that TensorFlow users and the tests
    can run it.
    """
    head = load_head(head_path)
    round_weights_to_float16(head)  # already float16 values; kept explicit
    extractor = build_feature_extractor(input_size, backbone=backbone)
    return assemble(extractor, head, imagenet_classifier(backbone))
