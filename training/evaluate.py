"""Validation metrics: per-class precision, recall, F1 and support; top-1 and top-2."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def evaluate(
    probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], train_counts: list[int]
) -> dict[str, Any]:
    """Metrics of ``probabilities`` (n, classes) against integer ``labels``.

    Precision, recall and F1 are ``None`` where they are undefined (no validation
    photos of the class, or never predicted), never a made-up 0 or 1.
    """
    predicted = probabilities.argmax(axis=1)
    top2 = np.argsort(-probabilities, axis=1)[:, :2]
    matrix = confusion_matrix(labels, predicted, len(classes))
    per_class = {}
    for i, name in enumerate(classes):
        true_positive = float(matrix[i, i])
        precision = _ratio(true_positive, float(matrix[:, i].sum()))
        recall = _ratio(true_positive, float(matrix[i, :].sum()))
        f1 = None
        if precision is not None and recall is not None and precision + recall > 0:
            f1 = 2 * precision * recall / (precision + recall)
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(matrix[i, :].sum()),
            "train_images": int(train_counts[i]),
        }
    return {
        "top1": float((predicted == labels).mean()) if len(labels) else None,
        "top2": float((top2 == labels[:, None]).any(axis=1).mean()) if len(labels) else None,
        "validation_images": len(labels),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def spec_policy_outcome(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """What the default policy writes (docs/tags.md): p1 > 0.9: top class; p1 + p2 > 0.5:
    top two; else Unknown."""
    order = np.argsort(-probabilities, axis=1)[:, :2]
    rows = np.arange(len(labels))
    p1, p2 = probabilities[rows, order[:, 0]], probabilities[rows, order[:, 1]]
    one = p1 > 0.9
    two = ~one & (p1 + p2 > 0.5)
    unknown = ~one & ~two
    right1, right2 = order[:, 0] == labels, order[:, 1] == labels
    tags = one.sum() + 2 * two.sum() + unknown.sum()
    correct = (right1 & (one | two)).sum() + (right2 & two).sum()
    photos = max(1, len(labels))
    return {
        "tag_precision": float(correct / tags) if tags else 1.0,
        "tag_hit_rate": float(((right1 & (one | two)) | (right2 & two)).sum() / photos),
        "unknown_share": float(unknown.sum() / photos),
    }
