"""Classifiers as plugins: the ``register_classifiers`` hook's records and their lookup.

A classifier is registered under a name with its input size, its labels (in
output order) and a factory that loads it.  ``[model] name`` (or ``--model-name``)
chooses one; the bundled scene models register through the same hook as a
third-party model would (``scened_plugins.classifiers``).  Policies, the API and
option checks use the loaded model's own labels, never a fixed list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pluggy

from scened.errors import ModelError, PluginError, ScenedError
from scened.model.runtime import DEFAULT_CLASSIFIER, Classifier, Runtime, model_id_for
from scened.plugins import collect_registrations, factory_bugs_reported, unknown_name

__all__ = ["DEFAULT_CLASSIFIER", "ClassifierOptions", "ClassifierSpec", "build_classifier"]


@dataclass(frozen=True)
class ClassifierOptions:
    """How to load a model: the runtime and the number of inference threads (None: all cores)."""

    runtime: Runtime = "litert"
    num_threads: int | None = None


@dataclass(frozen=True)
class ClassifierSpec:
    """What a plugin registers: enough to check a configuration without loading the model."""

    input_size: int
    labels: tuple[str, ...]
    factory: Callable[[ClassifierOptions], Classifier]
    description: str = ""
    #: The id the loaded model records with its tags, if known without loading it
    #: (``scened status`` compares it with the state to count what a run would re-tag).
    model_id: str = ""


def registered_classifiers(pm: pluggy.PluginManager) -> dict[str, ClassifierSpec]:
    """Every classifier the loaded plugins register, by name."""
    specs = collect_registrations(pm.hook.register_classifiers, "classifier")
    for name, spec in specs.items():
        if not isinstance(spec, ClassifierSpec):
            raise PluginError(f"classifier {name!r} must be registered as a ClassifierSpec")
    return specs


def build_classifier(
    pm: pluggy.PluginManager, name: str, options: ClassifierOptions | None = None
) -> Classifier:
    """Load the classifier registered as ``name``; one clear error when it is unknown."""
    specs = registered_classifiers(pm)
    if name not in specs:
        raise ModelError(unknown_name("model name", name, specs))
    spec = specs[name]
    with factory_bugs_reported(f"model {name!r} could not be loaded"):
        classifier = spec.factory(options or ClassifierOptions())
    if tuple(classifier.classes) != spec.labels:
        raise ModelError(f"model {name!r} loaded with other labels than it registered")
    return classifier


def expected_model_id(
    pm: pluggy.PluginManager, model_dir: Path | None, name: str | None
) -> str | None:
    """The id the configured model will record, without loading it (None: not known)."""
    if model_dir is not None:
        model_file = model_dir / "model.tflite"
        return model_id_for(model_dir, model_file) if model_file.is_file() else None
    try:
        spec = registered_classifiers(pm).get(name or DEFAULT_CLASSIFIER)
    except ScenedError:
        return None
    return spec.model_id or None if spec is not None else None
