"""The personal head fits labels, stays near the bundled model without them, round-trips."""

from __future__ import annotations

import numpy as np

from scened.learning.head import LabelRows, PersonalHead, basis, cross_validate, fit


def confused_library(n: int = 120, seed: int = 0) -> tuple[LabelRows, np.ndarray]:
    """Three classes; the bundled model calls every class-0 photo class 1.  The features
    (as ImageNet logits would) tell the two apart along one direction."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    features = rng.normal(0, 1, (n, 20)).astype(np.float32)
    features[:, 0] += np.where(truth == 0, 3.0, 0.0)
    probs = np.full((n, 3), 0.1, np.float32)
    probs[np.arange(n), np.where(truth == 0, 1, truth)] = 0.8
    photos = np.arange(n)
    rows = LabelRows(probs, features, photos, truth, np.ones(n, bool))
    return rows, truth


def test_a_systematic_confusion_is_learnt_and_cross_validation_shows_it() -> None:
    rows, _ = confused_library()
    mean, components = basis(rows.features, k=8)

    comparison = cross_validate(rows, mean, components)
    head = fit(rows, mean, components, comparison.strength, base_model_id="b", classes="xyz")

    assert comparison.bundled < 0.75 and comparison.personal > 0.9 and comparison.better
    fresh, fresh_truth = confused_library(seed=1)
    predicted = head.apply(fresh.probabilities, fresh.features).argmax(axis=1)
    assert (predicted == fresh_truth).mean() > 0.9


def test_negative_labels_push_a_class_down() -> None:
    rows, _ = confused_library()
    n = len(rows.photo)
    negatives = LabelRows(
        rows.probabilities, rows.features, rows.photo, np.ones(n, int), np.zeros(n, bool)
    )
    mean, components = basis(rows.features, k=8)
    head = fit(negatives, mean, components, 0.03, base_model_id="b", classes="xyz")
    assert head.apply(rows.probabilities, rows.features)[:, 1].mean() < 0.2


def test_without_signal_the_head_stays_the_bundled_model_and_round_trips() -> None:
    rows, _ = confused_library()
    mean, components = basis(rows.features, k=8)
    top = rows.probabilities.argmax(axis=1)
    agreeing = LabelRows(
        rows.probabilities, rows.features, rows.photo, top, np.ones(len(top), bool)
    )
    head = fit(agreeing, mean, components, 3.0, base_model_id="b", classes="xyz")

    assert (head.apply(rows.probabilities, rows.features).argmax(1)
            == rows.probabilities.argmax(1)).all()  # fmt: skip
    again = PersonalHead.from_bytes(head.to_bytes())
    assert again.digest == head.digest and again.base_model_id == "b"
    assert np.allclose(again.apply(rows.probabilities, rows.features),
                       head.apply(rows.probabilities, rows.features))  # fmt: skip
