"""The personal model of a library: the bundled model under a personal head.

``scened learn`` saves a :class:`~scened.learning.head.PersonalHead` per library in
the state folder (``personal/<library digest>.npz``); every run of that library then
tags with :class:`PersonalClassifier`, whose model id is the bundled model's with the
head's digest appended (so the state sees a new model, and photos are re-scored from
their stored features, not decoded again).  A head learnt on another bundled model
is not used (a warning says so), and ``scened learn --reset`` deletes it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from scened.learning.head import PersonalHead
from scened.model.runtime import Classifier, FeatureClassifier, feature_classifier

log = logging.getLogger(__name__)

FOLDER = "personal"


def head_path(state_dir: Path, library: str) -> Path:
    digest = hashlib.sha256(library.encode("utf-8")).hexdigest()[:16]
    return state_dir / FOLDER / f"{digest}.npz"


def load_head(state_dir: Path, library: str) -> PersonalHead | None:
    path = head_path(state_dir, library)
    try:
        return PersonalHead.from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: the personal model cannot be read (%s); using the bundled one", path, exc)
        return None


def save_head(state_dir: Path, library: str, head: PersonalHead) -> Path:
    path = head_path(state_dir, library)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(head.to_bytes())
    temporary.replace(path)
    return path


def reset(state_dir: Path, library: str) -> bool:
    """Delete the library's personal model; whether there was one."""
    try:
        head_path(state_dir, library).unlink()
    except FileNotFoundError:
        return False
    return True


class PersonalClassifier:
    """The bundled model, its probabilities adjusted by a personal head."""

    def __init__(self, base: FeatureClassifier, head: PersonalHead) -> None:
        self.base = base
        self.head = head
        self.classes = base.classes
        self.input_size = base.input_size
        self.base_model_id = base.model_id
        self.model_id = f"{base.model_id}+personal-{head.digest}"

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.base.predict_features(batch)

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        return self.head.apply(probabilities, features)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.rescore(*self.predict_features(batch))


def personal_for(classifier: Classifier, state_dir: Path, library: str) -> Classifier:
    """The library's personal model over ``classifier``, or ``classifier`` itself."""
    head = load_head(state_dir, library)
    base = feature_classifier(classifier)
    if head is None or base is None:
        return classifier
    if head.base_model_id != base.model_id or head.classes != tuple(base.classes):
        log.warning(
            "library %s: its personal model was learnt on %s, not on %s: not used "
            "(run scened learn again)", library, head.base_model_id, base.model_id,
        )  # fmt: skip
        return classifier
    return PersonalClassifier(base, head)
