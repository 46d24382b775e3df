"""Runs a trained model: the TFLite export under ai-edge-litert (default) or Keras.

A model folder holds ``labels.txt`` (one class a line, in output order) and
``model.tflite`` and/or ``model.keras``; ``model.json`` may add an id, the fusion
settings and policy thresholds.  The model takes raw RGB values 0-255 as float32
(it normalises them itself) and returns the softmax over its classes, and, for
scened's own models, the backbone's ImageNet logits as a second output, which
:mod:`scened.model.fusion` combines with the first through the folder's
``imagenet_scenes.tsv``.  TensorFlow is imported only for the Keras runtime.
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
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from scened.errors import ModelError
from scened.imaging import INPUT_SIZE
from scened.model.fusion import Fusion
from scened.types import Prediction, as_float_tuple

if TYPE_CHECKING:
    import pluggy

Runtime = Literal["litert", "keras"]
#: Each bundled model is a folder here named as it is registered.
BUNDLED_ROOT = Path(str(files("scened.model").joinpath("bundled")))
#: The model ``scened run`` uses unless ``[model] name`` or ``path`` says otherwise.
DEFAULT_CLASSIFIER = "scenes"
#: The default model's folder.
BUNDLED_MODEL_DIR = BUNDLED_ROOT / DEFAULT_CLASSIFIER
#: The ImageNet → scene table a model folder carries when it fuses the two.
MAPPING_FILE = "imagenet_scenes.tsv"
IMAGENET_CLASSES = 1000


class Classifier(Protocol):
    """Anything that turns a batch of uint8 images into class probabilities."""

    model_id: str
    classes: tuple[str, ...]
    input_size: int

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """``(n, size, size, 3)`` uint8 → ``(n, len(classes))`` float32 probabilities."""
        ...


class FeatureClassifier(Classifier, Protocol):
    """A classifier that also gives what a personal head re-scores from
    (:mod:`scened.learning`): the bundled model's probabilities and compact features."""

    #: The model the features come from (the bundled one, under a personal head).
    base_model_id: str

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(base probabilities (n, classes), features (n, dims))`` float32."""
        ...

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        """This classifier's probabilities from what :meth:`predict_features` gave."""
        ...


def feature_classifier(classifier: Classifier) -> FeatureClassifier | None:
    """``classifier`` if it gives features, else None (a plugin's model may not)."""
    needed = ("base_model_id", "predict_features", "rescore")
    if all(hasattr(classifier, name) for name in needed):
        return classifier  # type: ignore[return-value]
    return None


def predict_images(classifier: Classifier, batch: np.ndarray) -> list[Prediction]:
    """Classify a batch and wrap each row as a :class:`Prediction`."""
    if len(batch) == 0:
        return []
    probabilities = classifier.predict(batch)
    return [
        Prediction(as_float_tuple(row), classifier.classes, classifier.model_id)
        for row in probabilities
    ]


class OutputCombiner:
    """Turns a model's raw outputs into class probabilities (fused when the folder says so)."""

    def __init__(self, model_dir: Path, classes: tuple[str, ...], meta: dict[str, Any]) -> None:
        self.classes = classes
        self.fusion = Fusion.from_json(meta.get("fusion", {}))
        self.mapping: np.ndarray | None = None
        mapping_path = model_dir / MAPPING_FILE
        if mapping_path.is_file():
            from scened.model.imagenet_map import MappingError, load_mapping

            try:
                self.mapping = load_mapping(mapping_path, classes)
            except MappingError as exc:
                raise ModelError(str(exc), mapping_path) from None

    def check(self, widths: Sequence[int], model_path: Path) -> None:
        if len(self.classes) not in widths:
            _check_outputs(widths[0], self.classes, model_path)

    def __call__(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        head = next(o for o in outputs if o.shape[-1] == len(self.classes))
        if len(outputs) == 1:
            return np.asarray(head, np.float32)
        logits = next(o for o in outputs if o.shape[-1] == IMAGENET_CLASSES)
        return self.fusion.apply(head, logits, self.mapping)


#: Images the TFLite interpreter runs at once (see :meth:`LiteRTClassifier._raw`).
INFERENCE_CHUNK = 4


class LiteRTClassifier:
    """The TFLite export run by ai-edge-litert (XNNPACK).  Thread-safe through a lock."""

    def __init__(
        self,
        model_path: Path,
        classes: tuple[str, ...],
        model_id: str,
        num_threads: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.classes = classes
        self.model_id = model_id
        self.metadata = metadata or {}
        self._combine = OutputCombiner(model_path.parent, classes, self.metadata)
        self._lock = threading.Lock()
        try:
            with _native_stderr_silenced():  # litert prints an INFO line about XNNPACK
                self._interpreter = Interpreter(
                    model_path=str(model_path), num_threads=num_threads or os.cpu_count() or 1
                )
        except ValueError as exc:
            raise ModelError(f"cannot load TFLite model: {exc}", model_path) from None
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self.input_size = int(self._input["shape"][1])
        self._batch_size = -1
        self._combine.check([int(o["shape"][-1]) for o in self._outputs], model_path)

    @property
    def base_model_id(self) -> str:
        return self.model_id

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._combine(self._raw(batch))

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The probabilities and, as features, the backbone's ImageNet logits (or, for a
        model without them, the log-probabilities)."""
        raw = self._raw(batch)
        probabilities = self._combine(raw)
        logits = [o for o in raw if o.shape[-1] == IMAGENET_CLASSES]
        features = logits[0] if logits else np.log(probabilities + 1e-6)
        return probabilities, np.asarray(features, np.float32)

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        return probabilities

    def _raw(self, batch: np.ndarray) -> list[np.ndarray]:
        """The model's outputs for ``batch``, run :data:`INFERENCE_CHUNK` images at a time.

        The interpreter's activation memory grows with the images it runs at once;
        measured here (load_model_folder of the bundled model), 4 at a time infer as fast
        per image as 16 and hold about 85 MB less.  Resizing the input costs nothing
        after the first allocation, so a last, smaller chunk runs at its own size.
        """
        parts: list[list[np.ndarray]] = []
        with self._lock:
            for start in range(0, len(batch), INFERENCE_CHUNK):
                chunk = batch[start : start + INFERENCE_CHUNK].astype(np.float32)
                if len(chunk) != self._batch_size:
                    self._interpreter.resize_tensor_input(
                        self._input["index"], [len(chunk), self.input_size, self.input_size, 3]
                    )
                    with _native_stderr_silenced():  # XNNPACK is applied here, and says so
                        self._interpreter.allocate_tensors()
                    self._batch_size = len(chunk)
                self._interpreter.set_tensor(self._input["index"], chunk)
                self._interpreter.invoke()
                parts.append([np.array(self._interpreter.get_tensor(o["index"]))
                              for o in self._outputs])  # fmt: skip
        if not parts:
            return [np.zeros((0, int(o["shape"][-1])), np.float32) for o in self._outputs]
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


class KerasClassifier:
    """The Keras model (needs TensorFlow: ``pip install scened[train]``)."""

    def __init__(
        self,
        model_path: Path,
        classes: tuple[str, ...],
        model_id: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        try:
            import keras
        except ImportError:
            raise ModelError(
                "the keras runtime needs TensorFlow: pip install 'scened[train]'", model_path
            ) from None
        self.classes = classes
        self.model_id = model_id
        self.metadata = metadata or {}
        self._combine = OutputCombiner(model_path.parent, classes, self.metadata)
        self._model: Any = keras.saving.load_model(model_path, compile=False)
        self.input_size = int(self._model.input_shape[1])
        shapes = self._model.output_shape
        shapes = shapes if isinstance(shapes, list) else [shapes]
        self._combine.check([int(shape[-1]) for shape in shapes], model_path)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        outputs = self._model(batch.astype(np.float32), training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return self._combine([np.asarray(o) for o in outputs])


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


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """``model.json`` of a model folder (empty when there is none)."""
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model.json: {exc}", meta_path) from None
    return meta if isinstance(meta, dict) else {}


def model_id_for(model_dir: Path, model_file: Path) -> str:
    """The id recorded with every tag: ``model.json``'s id, else a hash of the model file."""
    meta = read_metadata(model_dir)
    if isinstance(meta.get("id"), str):
        return str(meta["id"])
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:12]
    return f"{model_dir.name}-{digest}"


def load_model_folder(
    model_dir: Path, runtime: Runtime = "litert", num_threads: int | None = None
) -> Classifier:
    """Load the model in the folder ``model_dir`` with ``runtime``."""
    if not model_dir.is_dir():
        raise ModelError("model folder not found", model_dir)
    classes = read_labels(model_dir)
    meta = read_metadata(model_dir)
    if runtime == "litert":
        model_file = model_dir / "model.tflite"
        if not model_file.is_file():
            raise ModelError("no model.tflite in the model folder", model_dir)
        return LiteRTClassifier(
            model_file, classes, model_id_for(model_dir, model_file), num_threads, meta
        )
    if runtime == "keras":
        model_file = model_dir / "model.keras"
        if not model_file.is_file():
            raise ModelError("no model.keras in the model folder", model_dir)
        return KerasClassifier(model_file, classes, model_id_for(model_dir, model_file), meta)
    raise ModelError(f"unknown runtime {runtime!r} (choose litert or keras)", model_dir)


def load_classifier(
    model_dir: Path | None = None,
    runtime: Runtime = "litert",
    num_threads: int | None = None,
    *,
    name: str | None = None,
    pm: pluggy.PluginManager | None = None,
) -> Classifier:
    """The model in ``model_dir``, else the registered model ``name`` (default: the bundled one)."""
    if model_dir is not None:
        return load_model_folder(Path(model_dir), runtime, num_threads)
    from scened.model.registry import ClassifierOptions, build_classifier
    from scened.plugins import get_plugin_manager

    return build_classifier(
        pm or get_plugin_manager(),
        name or DEFAULT_CLASSIFIER,
        ClassifierOptions(runtime=runtime, num_threads=num_threads),
    )


__all__ = ["BUNDLED_MODEL_DIR", "INPUT_SIZE", "Classifier", "load_classifier"]
