"""Builds a tiny real TFLite model for the daemon's subprocess tests.

``python make_colour_model.py FOLDER`` writes ``model.tflite``, ``labels.txt`` (the 36
classes) and ``model.json``.  The model averages the image's RGB channels and maps
red → Sunset, green → Forest, blue → Sky through a softmax, so a test can predict
the tags of a solid-colour photo while going through the real LiteRT runtime, the
same way the bundled model is loaded.  Needs TensorFlow (the ``train`` extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from scened.classes import CLASSES

CHANNEL_CLASSES = ("Sunset", "Forest", "Sky")


class ColourModel(tf.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        weights = np.zeros((3, len(CLASSES)), np.float32)
        for channel, name in enumerate(CHANNEL_CLASSES):
            weights[channel, CLASSES.index(name)] = 20 / 255
        self.weights = tf.constant(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, 160, 160, 3], tf.float32)])  # type: ignore[misc]
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        means = tf.reduce_mean(images, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(means, self.weights))


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model = ColourModel()
    function = model.__call__.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    (folder / "model.tflite").write_bytes(converter.convert())
    (folder / "labels.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    (folder / "model.json").write_text(json.dumps({"id": "colour-test-1"}), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
