"""The scene classifier at tagging time: the bundled model and its runtimes."""

from __future__ import annotations

from scened.model.runtime import Classifier, load_classifier, predict_images

__all__ = ["Classifier", "load_classifier", "predict_images"]
