"""Choices made on photos of unseen sources: the leave-one-source-out estimate.

Each class of the training tree comes mostly from one or two datasets, so a
random split measures how well the head recognises a *source's* look.  Here the
head is trained again without one source at a time (in every class that has at
least one other source) and tested on that source's photos: out-of-fold
predictions on sources the head never saw.  Sources with fewer than
``MIN_FOLD_PHOTOS`` eligible photos are held out together (still unseen by that
fold's head), which keeps the number of folds, and the time, bounded.

On those predictions this module chooses the weight of the ImageNet prior and
the calibration temperature (:class:`scened.model.fusion.Fusion`), and the
thresholds of the precision-first tag policy.  The random split is reported
beside it but decides nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scened.evaluation import expected_calibration_error as ece_of
from scened.model.fusion import Fusion, imagenet_prior, softmax

from .data import Sample

log = logging.getLogger(__name__)
MIN_FOLD_PHOTOS = 40
IMAGENET_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(9))
TAG_PRECISION_TARGET = 0.9


@dataclass(frozen=True)
class Fold:
    """Photos held out together: one source, or several small ones."""

    name: str
    test: np.ndarray  # indices into the sample list


def source_folds(samples: Sequence[Sample]) -> list[Fold]:
    """One fold per source over the photos of classes that have two or more sources.

    Small sources are pooled into folds of about ``MIN_FOLD_PHOTOS`` photos, never
    so that a fold holds out every source of a class (its head must still see the
    class).
    """
    sources_of_class: dict[int, set[str]] = defaultdict(set)
    for sample in samples:
        sources_of_class[sample.label].add(sample.source)
    eligible: dict[str, list[int]] = defaultdict(list)
    classes_of_source: dict[str, set[int]] = defaultdict(set)
    for i, sample in enumerate(samples):
        if len(sources_of_class[sample.label]) >= 2:
            eligible[sample.source].append(i)
            classes_of_source[sample.source].add(sample.label)
    folds: list[Fold] = []
    group: list[str] = []

    def close_group() -> None:
        if group:
            test = sorted(i for source in group for i in eligible[source])
            folds.append(Fold("+".join(group), np.array(test)))
            group.clear()

    def fits(source: str) -> bool:
        together = {*group, source}
        return all(sources_of_class[label] - together for label in classes_of_source[source])

    for source in sorted(eligible, key=lambda s: (-len(eligible[s]), s)):
        if len(eligible[source]) >= MIN_FOLD_PHOTOS:
            folds.append(Fold(source, np.array(eligible[source])))
            continue
        if not fits(source):
            close_group()
        group.append(source)
        if sum(len(eligible[s]) for s in group) >= MIN_FOLD_PHOTOS:
            close_group()
    close_group()
    return folds


def out_of_fold(
    folds: Sequence[Fold],
    n_samples: int,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Head probabilities for every held-out photo, each from a head that never saw its source.

    ``fit_predict(train_mask, test_indices)`` trains on the photos where
    ``train_mask`` is true and returns probabilities for ``test_indices``.
    """
    predictions: np.ndarray | None = None
    for k, fold in enumerate(folds):
        train_mask = np.ones(n_samples, bool)
        train_mask[fold.test] = False
        probabilities = fit_predict(train_mask, fold.test)
        if predictions is None:
            predictions = np.full((n_samples, probabilities.shape[1]), np.nan, np.float32)
        predictions[fold.test] = probabilities
        log.info("source-held-out fold %d/%d (%s): %d photos", k + 1, len(folds), fold.name,
                 len(fold.test))  # fmt: skip
    if predictions is None:
        raise ValueError("no class has photos from two or more sources")
    return predictions


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """ECE of the top-1 probability, computed as ``scened eval`` computes it."""
    value = ece_of(
        probabilities.max(axis=1).astype(float).tolist(),
        (probabilities.argmax(axis=1) == labels).tolist(),
    )
    return 0.0 if value is None else float(value)


def choose_fusion(
    head: np.ndarray, imagenet_logits: np.ndarray, mapping: np.ndarray, labels: np.ndarray
) -> tuple[Fusion, list[dict[str, float]]]:
    """The prior weight with the best held-out top-1, then the temperature with the best NLL."""
    prior = imagenet_prior(imagenet_logits, mapping, Fusion().prior_floor)
    trials = []
    for weight in IMAGENET_WEIGHTS:
        fused = Fusion(imagenet_weight=weight).logits(head, prior).argmax(axis=1)
        trials.append({"imagenet_weight": weight, "top1": float((fused == labels).mean())})
    best = max(trials, key=lambda t: (round(t["top1"], 4), -t["imagenet_weight"]))
    weight = best["imagenet_weight"]
    logits = Fusion(imagenet_weight=weight).logits(head, prior)
    temperature = _fit_temperature(logits, labels)
    return Fusion(imagenet_weight=weight, temperature=temperature), trials


def _fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (grid, then a finer grid)."""

    def nll(t: float) -> float:
        p = softmax(logits / t).astype(np.float64)
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1)).mean())

    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 41))
    best = min(grid, key=nll)
    fine = np.exp(np.linspace(np.log(best) - 0.1, np.log(best) + 0.1, 21))
    return round(float(min(fine, key=nll)), 4)


@dataclass(frozen=True)
class TagOutcome:
    tagged: int
    hits: int
    tags: int
    correct_tags: int

    def as_dict(self, photos: int) -> dict[str, float]:
        return {
            "tag_precision": self.correct_tags / self.tags if self.tags else 1.0,
            "tag_hit_rate": self.hits / photos if photos else 0.0,
            "untagged_share": 1 - self.tagged / photos if photos else 0.0,
            "tags_per_tagged_photo": self.tags / self.tagged if self.tagged else 0.0,
        }


def precision_writes(
    probabilities: np.ndarray, first: float | np.ndarray, second: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the precision policy writes, for every photo at once.

    Returns the two most probable classes per photo and whether each is written: the
    top class if ``p1 >= first`` (one threshold, or one per class indexed by the top
    class), the second only with it and if ``p2 >= second``.
    """
    order = np.argsort(-probabilities, axis=1)[:, :2]
    rows = np.arange(len(probabilities))
    p1, p2 = probabilities[rows, order[:, 0]], probabilities[rows, order[:, 1]]
    thresholds = first[order[:, 0]] if isinstance(first, np.ndarray) else first
    write1 = p1 >= thresholds
    return order, write1, write1 & (p2 >= second)


def tag_outcome(
    probabilities: np.ndarray,
    labels: np.ndarray,
    first: float | np.ndarray,
    second: float,
) -> TagOutcome:
    """How many photos and tags the precision policy writes, and how many are right."""
    order, write1, write2 = precision_writes(probabilities, first, second)
    right1 = order[:, 0] == labels
    right2 = order[:, 1] == labels
    correct = int((write1 & right1).sum() + (write2 & right2).sum())
    return TagOutcome(
        tagged=int(write1.sum()),
        hits=int(((write1 & right1) | (write2 & right2)).sum()),
        tags=int(write1.sum() + write2.sum()),
        correct_tags=correct,
    )


_FIRSTS = np.round(np.arange(0.15, 0.951, 0.025), 3)
_SECONDS = (*np.round(np.arange(0.2, 0.651, 0.025), 3), 1.0)
#: A class gets its own threshold only where this many photos support it.
MIN_CLASS_SUPPORT = 25


def choose_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    target: float = TAG_PRECISION_TARGET,
) -> dict[str, Any]:
    """Thresholds that tag the most photos rightly while tag precision stays >= ``target``.

    First one threshold for the top class and one for a second tag, over all
    photos.  Then, per class, the lowest threshold at which the photos whose top
    class it is are still right at least ``target`` of the time, on at least
    ``MIN_CLASS_SUPPORT`` photos (higher than the global one where the class is
    often wrong, lower where it is reliable; 1.0, never written, where no threshold
    is right often enough).  A class without that much evidence keeps the global
    threshold, unless the whole would then miss the target.
    """
    first, second = _global_thresholds(probabilities, labels, target)
    top = probabilities.argmax(axis=1)
    p1 = probabilities.max(axis=1)
    per_class = np.full(len(classes), first)
    class_thresholds: dict[str, float] = {}
    for c, name in enumerate(classes):
        mine = top == c
        for t in _FIRSTS:
            chosen = mine & (p1 >= t)
            if chosen.sum() < MIN_CLASS_SUPPORT:
                break
            if (labels[chosen] == c).mean() >= target:
                per_class[c] = float(t)
                class_thresholds[name] = float(t)
                break
        else:
            per_class[c] = class_thresholds[name] = 1.0  # never right often enough
    outcome = tag_outcome(probabilities, labels, per_class, second)
    if outcome.tags and outcome.correct_tags / outcome.tags < target:
        for c, name in enumerate(classes):  # too little evidence was too much trust
            if name not in class_thresholds:
                per_class[c] = class_thresholds[name] = 1.0
        outcome = tag_outcome(probabilities, labels, per_class, second)
    global_outcome = tag_outcome(probabilities, labels, first, second)
    return {
        "min_probability": first,
        "second_probability": second,
        "class_thresholds": class_thresholds,
        "target_precision": target,
        "global_only": global_outcome.as_dict(len(labels)),
        **outcome.as_dict(len(labels)),
    }


def _global_thresholds(
    probabilities: np.ndarray, labels: np.ndarray, target: float
) -> tuple[float, float]:
    best: tuple[int, float, float] | None = None
    for first in _FIRSTS:
        for second in _SECONDS:
            if second < first / 2:
                continue
            outcome = tag_outcome(probabilities, labels, float(first), float(second))
            if outcome.tags and outcome.correct_tags / outcome.tags >= target:
                key = (outcome.hits, -float(first), -float(second))
                if best is None or key > (best[0], -best[1], -best[2]):
                    best = (outcome.hits, float(first), float(second))
    if best is None:  # the target cannot be met: be as strict as the grid allows
        return float(_FIRSTS[-1]), 1.0
    return best[1], best[2]


def per_class_recall(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    predicted = probabilities.argmax(axis=1)
    table: dict[str, dict[str, float | int | None]] = {}
    for i, name in enumerate(classes):
        mine = labels == i
        table[name] = {
            "support": int(mine.sum()),
            "recall": float((predicted[mine] == i).mean()) if mine.any() else None,
        }
    return table
