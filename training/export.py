"""Writes a trained model folder: Keras model, TFLite export, labels, head weights, model.json.

The folder is what ``scened classify --model DIR`` and the daemon load:
``labels.txt`` (one class a line, in output order), ``model.tflite`` (run by
ai-edge-litert at tagging time), ``model.keras`` (the same model, for TensorFlow),
``head.npz`` (the trained head alone, from which the model can be rebuilt on top of
the ImageNet checkpoint) and ``model.json`` (id, classes, sha256 of each file).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras

from .backbones import Backbone
from .model import save_head_weights

MAPPING_FILE = "imagenet_scenes.tsv"
MODEL_FILES = ("model.tflite", "labels.txt", "head.npz", MAPPING_FILE)


def tflite_bytes(model: keras.Model, float16: bool = True) -> bytes:
    """The TFLite flatbuffer; with ``float16`` its weights are stored as float16."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return bytes(converter.convert())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_model(
    model: keras.Model,
    head: keras.Model,
    out_dir: Path,
    classes: tuple[str, ...],
    *,
    backbone: Backbone,
    mapping_file: Path,
    float16: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every file of the model folder and return the model.json contents."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    (out_dir / "model.tflite").write_bytes(tflite_bytes(model, float16))
    (out_dir / "labels.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    save_head_weights(head, out_dir / "head.npz")
    shutil.copyfile(mapping_file, out_dir / MAPPING_FILE)
    files = {name: sha256_of(out_dir / name) for name in (*MODEL_FILES, "model.keras")}
    size = int(model.input_shape[1])
    meta = {
        "id": f"scenes-{backbone.id_tag}-{size}-{files['model.tflite'][:12]}",
        "backbone": backbone.name,
        "architecture": f"{backbone.description} + "
        "Dense256-Dropout0.5-Dense256-Dropout0.5-Dense softmax; outputs the head's "
        "probabilities and the ImageNet logits, fused as model.json 'fusion' says",
        "input": {"size": size, "values": "RGB 0-255 float32"},
        "weights_precision": "float16" if float16 else "float32",
        "classes": list(classes),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sha256": files,
        **(extra or {}),
    }
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
