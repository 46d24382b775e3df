"""``scened learn``: fit a library's personal head on its labels, adopt it only if better.

The labels of a library (:mod:`scened.learning.store`) are joined with each photo's
stored features; a labelled photo tagged before features were kept is decoded once
for them.  The head works on the principal directions of the whole library's
features (its own photos, labelled or not).  Photo-wise cross-validation on the
labels compares the bundled model with a personal head fitted without the photos
it is scored on; the head (fitted on all labels) is saved only when it agrees with
the user more often.  Both figures are returned for the command to print.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.imaging import load_for_model
from scened.learning.head import Comparison, LabelRows, PersonalHead, basis, cross_validate, fit
from scened.learning.personal import save_head
from scened.learning.store import Features, library_features, list_labels, put_features
from scened.model.runtime import FeatureClassifier

log = logging.getLogger(__name__)

#: Fewer labels than this say too little to fit anything.
MIN_LABELS = 10
MIN_PHOTOS = 5
#: At most this many photos' features for the principal directions (a random sample).
BASIS_SAMPLE = 20_000


@dataclass(frozen=True)
class LearnResult:
    library: str
    comparison: Comparison
    adopted: bool
    model_id: str
    saved_to: Path | None


def learn_library(
    state: StateDB, state_dir: Path, library: str, base: FeatureClassifier, *,
    dry_run: bool = False,
) -> LearnResult:  # fmt: skip
    """Fit, compare and (when better, and not a dry run) save ``library``'s personal head."""
    labels = list_labels(state, [library])
    if len(labels) < MIN_LABELS:
        raise ScenedError(
            f"library {library}: {len(labels)} labels, at least {MIN_LABELS} are needed "
            "(correct some keywords in your photo manager or on the review page, then "
            "let scened scan)"
        )
    features = dict(library_features(state, library, base.model_id))
    _decode_missing(state, base, [lb.path for lb in labels if lb.path not in features],
                    features, dry_run=dry_run)  # fmt: skip
    usable = [lb for lb in labels if lb.path in features]
    photos = sorted({lb.path for lb in usable})
    if len(usable) < MIN_LABELS or len(photos) < MIN_PHOTOS:
        raise ScenedError(
            f"library {library}: only {len(usable)} labels on {len(photos)} photos that can "
            f"still be read; at least {MIN_LABELS} labels on {MIN_PHOTOS} photos are needed"
        )
    index = {path: i for i, path in enumerate(photos)}
    classes = list(base.classes)
    known = [lb for lb in usable if lb.class_name in classes]
    rows = LabelRows(
        np.stack([features[p].probabilities for p in photos]),
        np.stack([features[p].features for p in photos]),
        np.array([index[lb.path] for lb in known], int),
        np.array([classes.index(lb.class_name) for lb in known], int),
        np.array([lb.positive for lb in known], bool),
    )  # fmt: skip
    mean, components = basis(_sample(list(features.values())))
    comparison = cross_validate(rows, mean, components)
    head = fit(rows, mean, components, comparison.strength, base_model_id=base.model_id,
               classes=classes)  # fmt: skip
    model_id = f"{base.model_id}+personal-{head.digest}"
    saved = None
    if comparison.better and not dry_run:
        saved = save_head(state_dir, library, head)
    return LearnResult(library, comparison, comparison.better, model_id, saved)


def _decode_missing(
    state: StateDB, base: FeatureClassifier, paths: Sequence[Path],
    features: dict[Path, Features], *, dry_run: bool,
) -> None:  # fmt: skip
    """Features of labelled photos tagged before features were kept (decoded once)."""
    rows = []
    for path in sorted(set(paths)):
        try:
            pixels = load_for_model(path, size=base.input_size)
        except (ScenedError, OSError) as exc:
            log.warning("%s: cannot be read for learning: %s", path, exc)
            continue
        probs, feats = base.predict_features(pixels[None, ...])
        features[path] = Features(base.model_id, probs[0], feats[0])
        rows.append((path, base.model_id, probs[0], feats[0]))
    if rows and not dry_run:
        put_features(state, rows)


def _sample(values: list[Features]) -> np.ndarray:
    if len(values) > BASIS_SAMPLE:
        picks = np.random.default_rng(0).choice(len(values), BASIS_SAMPLE, replace=False)
        values = [values[i] for i in sorted(picks)]
    return np.stack([v.features for v in values])


__all__ = ["LearnResult", "PersonalHead", "learn_library"]
