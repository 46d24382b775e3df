"""Runs a trained model: the TFLite export under ai-edge-litert (default) or Keras.

A model folder holds ``labels.txt`` (one class a line, in output order) and
``model.tflite`` and/or ``model.keras``; ``model.json`` may add an id.  The model
takes raw RGB values 0-255 as float32 (it normalises them itself) and returns the
softmax over its classes.  TensorFlow is imported only for the Keras runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from scened.errors import ModelError
from scened.imaging import INPUT_SIZE
from scened.types import Prediction, as_float_tuple

Runtime = Literal["litert", "keras"]
BUNDLED_MODEL_DIR = Path(str(files("scened.model").joinpath("bundled")))


class Classifier(Protocol):
    """Anything that turns a batch of uint8 images into class probabilities."""

    model_id: str
    classes: tuple[str, ...]
    input_size: int

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """``(n, size, size, 3)`` uint8 → ``(n, len(classes))`` float32 probabilities."""
        ...


def predict_images(classifier: Classifier, batch: np.ndarray) -> list[Prediction]:
    """Classify a batch and wrap each row as a :class:`Prediction`."""
    if len(batch) == 0:
        return []
    probabilities = classifier.predict(batch)
    return [
        Prediction(as_float_tuple(row), classifier.classes, classifier.model_id)
        for row in probabilities
    ]


class LiteRTClassifier:
    """The TFLite export run by ai-edge-litert (XNNPACK).  Thread-safe through a lock."""

    def __init__(
        self,
        model_path: Path,
        classes: tuple[str, ...],
        model_id: str,
        num_threads: int | None = None,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.classes = classes
        self.model_id = model_id
        self._lock = threading.Lock()
        try:
            with _native_stderr_silenced():  # litert prints an INFO line about XNNPACK
                self._interpreter = Interpreter(
                    model_path=str(model_path), num_threads=num_threads or os.cpu_count() or 1
                )
        except ValueError as exc:
            raise ModelError(f"cannot load TFLite model: {exc}", model_path) from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_size = int(self._input["shape"][1])
        self._batch_size = -1
        _check_outputs(int(self._output["shape"][-1]), classes, model_path)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if len(batch) != self._batch_size:
                self._interpreter.resize_tensor_input(
                    self._input["index"], [len(batch), self.input_size, self.input_size, 3]
                )
                with _native_stderr_silenced():  # XNNPACK is applied here, and says so
                    self._interpreter.allocate_tensors()
                self._batch_size = len(batch)
            self._interpreter.set_tensor(self._input["index"], batch.astype(np.float32))
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output["index"]))


class KerasClassifier:
    """The Keras model (needs TensorFlow: ``pip install scened[train]``)."""

    def __init__(self, model_path: Path, classes: tuple[str, ...], model_id: str) -> None:
        try:
            import keras
        except ImportError:
            raise ModelError(
                "the keras runtime needs TensorFlow: pip install 'scened[train]'", model_path
            ) from None
        self.classes = classes
        self.model_id = model_id
        self._model: Any = keras.saving.load_model(model_path, compile=False)
        self.input_size = int(self._model.input_shape[1])
        _check_outputs(int(self._model.output_shape[-1]), classes, model_path)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._model(batch.astype(np.float32), training=False))


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence what native code writes to file descriptor 2 (not Python's sys.stderr)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with Path(os.devnull).open("wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_outputs(outputs: int, classes: Sequence[str], model_path: Path) -> None:
    if outputs != len(classes):
        raise ModelError(
            f"the model has {outputs} outputs but labels.txt names {len(classes)} classes",
            model_path,
        )


def read_labels(model_dir: Path) -> tuple[str, ...]:
    labels_path = model_dir / "labels.txt"
    try:
        lines = labels_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read the label list: {exc.strerror}", labels_path) from None
    return tuple(line.strip() for line in lines if line.strip())


def model_id_for(model_dir: Path, model_file: Path) -> str:
    """The id recorded with every tag: ``model.json``'s id, else a hash of the model file."""
    meta_path = model_dir / "model.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if isinstance(meta.get("id"), str):
            return str(meta["id"])
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:12]
    return f"{model_dir.name}-{digest}"


def load_classifier(
    model_dir: Path | None = None, runtime: Runtime = "litert", num_threads: int | None = None
) -> Classifier:
    """Load the model in ``model_dir`` (default: the bundled model) with ``runtime``."""
    model_dir = Path(model_dir) if model_dir is not None else BUNDLED_MODEL_DIR
    if not model_dir.is_dir():
        raise ModelError("model folder not found", model_dir)
    classes = read_labels(model_dir)
    if runtime == "litert":
        model_file = model_dir / "model.tflite"
        if not model_file.is_file():
            raise ModelError("no model.tflite in the model folder", model_dir)
        return LiteRTClassifier(
            model_file, classes, model_id_for(model_dir, model_file), num_threads
        )
    if runtime == "keras":
        model_file = model_dir / "model.keras"
        if not model_file.is_file():
            raise ModelError("no model.keras in the model folder", model_dir)
        return KerasClassifier(model_file, classes, model_id_for(model_dir, model_file))
    raise ModelError(f"unknown runtime {runtime!r} (choose litert or keras)", model_dir)


__all__ = ["BUNDLED_MODEL_DIR", "INPUT_SIZE", "Classifier", "load_classifier"]
