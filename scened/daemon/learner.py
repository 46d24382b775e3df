"""What a scan does for learning: corrections become labels, features are kept, and a
personal model re-scores photos from their stored features instead of decoding them.

Used by :class:`scened.daemon.runner.LibraryRun` at three points: in the readers
(:meth:`Learner.corrections` for a tagged photo whose pixels are unchanged but whose
file changed; :meth:`Learner.rescore` for an unchanged photo when the model is a new
personal head), in the batcher (:meth:`Learner.classify`, which keeps the features),
and in the finishing thread (:meth:`Learner.remember`, the only place that writes
labels and features to the state).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scened.config import LibraryConfig
from scened.daemon.jobs import Action, Job
from scened.daemon.state import PhotoRecord, StateDB
from scened.errors import ScenedError
from scened.learning.corrections import labels_from_fields
from scened.learning.store import add_labels, get_features, put_features
from scened.metadata.client import shared_worker
from scened.metadata.fields import KeywordOptions
from scened.model.runtime import Classifier, feature_classifier
from scened.types import Policy, Prediction, as_float_tuple

log = logging.getLogger(__name__)


class Learner:
    def __init__(self, state: StateDB, library: LibraryConfig, classifier: Classifier) -> None:
        self.state = state
        self.library = library
        self.classifier = classifier
        self.features = feature_classifier(classifier)
        rename = library.policy_options.get("rename")
        self.rename: Mapping[str, str] = rename if isinstance(rename, Mapping) else {}
        self.root = _keyword_root(library.sinks)

    # -- readers ----------------------------------------------------------------------

    def corrections(self, path: Path) -> list[tuple[str, bool]]:
        """The user's corrections in ``path``'s keywords (empty if it cannot be read)."""
        try:
            current = shared_worker().read(path)
        except ScenedError:
            log.debug("%s: cannot read its keywords for corrections", path, exc_info=True)
            return []
        return labels_from_fields(current, self.classifier.classes, rename=self.rename,
                                  root=self.root)  # fmt: skip

    def rescored(self, job: Job, previous: PhotoRecord, policy: Policy | None) -> bool:
        """An unchanged photo under a new personal model: re-scored from its features
        (``RESCORE`` when its tags change, else only re-recorded as ``EDITED``)."""
        prediction = self.rescore(job, previous)
        if prediction is None or policy is None:
            return False
        job.prediction, job.tags = prediction, tuple(policy.choose(prediction))
        job.digest, job.pixel_digest = previous.content_hash, previous.pixel_digest
        job.action = Action.RESCORE if job.tags != previous.tags else Action.EDITED
        return True

    def rescore(self, job: Job, previous: PhotoRecord) -> Prediction | None:
        """The personal model's prediction for an unchanged photo, from its features."""
        source = self.features
        if source is None or source.base_model_id == source.model_id:
            return None  # the bundled model itself: nothing new to say without pixels
        if previous.signature != job.entry.signature or previous.outcome != "tagged":
            return None
        stored = get_features(self.state, job.path)
        if stored is None or stored.model_id != source.base_model_id:
            return None
        row = source.rescore(stored.probabilities[None, :], stored.features[None, :])[0]
        return Prediction(as_float_tuple(row), self.classifier.classes, self.classifier.model_id)

    # -- batcher ------------------------------------------------------------------------

    def classify(self, jobs: Sequence[Job], batch: np.ndarray) -> list[Prediction]:
        """Predictions for ``batch``; each job keeps the features its photo gave."""
        if self.features is None:
            return self.predictions(jobs, self.classifier.predict(batch), None)
        return self.predictions(jobs, *self.features.predict_features(batch))

    def predictions(
        self, jobs: Sequence[Job], output: np.ndarray, features: np.ndarray | None
    ) -> list[Prediction]:
        """Predictions from the model's ``output`` for ``jobs`` (a personal model
        re-scores it from the ``features``, which each job keeps for learning)."""
        probabilities = output
        if self.features is not None and features is not None:
            probabilities = self.features.rescore(output, features)
            for job, base_row, feature_row in zip(jobs, output, features, strict=True):
                job.base_output = (base_row, feature_row)
        return [
            Prediction(as_float_tuple(row), self.classifier.classes, self.classifier.model_id)
            for row in probabilities
        ]

    # -- finishing thread ---------------------------------------------------------------

    def remember(self, job: Job) -> None:
        """Record the job's labels and features (dry runs never get here)."""
        if job.corrections:
            added = add_labels(self.state, self.library.name, job.path, job.corrections, "file")
            if added:
                log.info("%s: %d correction(s) recorded as labels", job.path, added)
        if job.base_output is not None and self.features is not None:
            base, features = job.base_output
            put_features(self.state, [(job.path, self.features.base_model_id, base, features)])


def _keyword_root(sinks: Sequence[Mapping[str, Any]]) -> str:
    for sink in sinks:
        root = sink.get("root")
        if isinstance(root, str) and root:
            return root
    return KeywordOptions().root
