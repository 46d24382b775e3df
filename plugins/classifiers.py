"""The bundled scene models, registered through ``register_classifiers`` like any other.

Each folder under ``scened/model/bundled/`` is one model, registered under the
folder's name; its labels and input size are read from ``labels.txt`` and
``model.json`` without loading the model.
"""

from __future__ import annotations

from pathlib import Path

from scened import hookimpl
from scened.hookspecs import RegisterClassifier
from scened.model.registry import ClassifierOptions, ClassifierSpec
from scened.model.runtime import (
    BUNDLED_ROOT,
    Classifier,
    load_model_folder,
    model_id_for,
    read_labels,
    read_metadata,
)


def _spec(folder: Path) -> ClassifierSpec:
    meta = read_metadata(folder)

    def load(options: ClassifierOptions) -> Classifier:
        return load_model_folder(folder, options.runtime, options.num_threads)

    return ClassifierSpec(
        input_size=int(meta.get("input", {}).get("size", 160)),
        labels=read_labels(folder),
        factory=load,
        description=str(meta.get("architecture", "")),
        model_id=model_id_for(folder, folder / "model.tflite"),
    )


@hookimpl
def register_classifiers(register: RegisterClassifier) -> None:
    for folder in sorted(BUNDLED_ROOT.iterdir()):
        if (folder / "labels.txt").is_file():
            register(folder.name, _spec(folder))
