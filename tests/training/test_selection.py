"""Leave-one-source-out folds, and the prior weight, temperature and thresholds chosen on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scened.model.fusion import softmax
from scened_training.data import Sample
from scened_training.selection import (
    MIN_FOLD_PHOTOS,
    choose_fusion,
    choose_thresholds,
    expected_calibration_error,
    out_of_fold,
    source_folds,
    tag_outcome,
)


def _samples(spec: dict[tuple[int, str], int]) -> list[Sample]:
    return [
        Sample(Path(f"{label}/{source}_{i}.jpg"), label, source)
        for (label, source), count in spec.items()
        for i in range(count)
    ]


def test_folds_hold_out_each_source_of_classes_that_have_another() -> None:
    samples = _samples({
        (0, "big"): 60, (0, "other"): 50,   # class 0: two sources
        (1, "big"): 45, (1, "tiny1"): 10, (1, "tiny2"): 12, (1, "tiny3"): 30,
        (2, "only"): 70,                    # one source: never held out
    })  # fmt: skip
    folds = source_folds(samples)
    held = np.concatenate([f.test for f in folds])
    assert len(held) == len(set(held.tolist()))  # each photo in one fold at most
    assert {samples[i].label for i in held} == {0, 1}
    assert len(held) == len(samples) - 70
    by_name = {f.name: f for f in folds}
    assert {samples[i].source for i in by_name["big"].test} == {"big"}
    assert len(by_name["big"].test) == 105  # both classes at once: the source is unseen
    pooled = [f for f in folds if "+" in f.name]
    assert pooled and all(len(f.test) >= MIN_FOLD_PHOTOS or f is folds[-1] for f in pooled)


def test_pooled_small_sources_never_hold_out_a_whole_class() -> None:
    samples = _samples({
        (0, "a"): 5, (0, "b"): 5, (1, "c"): 5, (1, "d"): 5, (2, "e"): 5, (2, "f"): 5,
    })  # fmt: skip
    folds = source_folds(samples)
    held = np.concatenate([f.test for f in folds])
    assert sorted(held.tolist()) == list(range(len(samples)))
    for fold in folds:
        out = {samples[i].source for i in fold.test}
        for label in (0, 1, 2):
            sources = {s.source for s in samples if s.label == label}
            assert sources - out, (fold.name, label)  # one source of each class stays in


def test_out_of_fold_never_trains_on_the_photos_it_predicts() -> None:
    samples = _samples({(0, "a"): 50, (0, "b"): 50, (1, "a"): 40, (1, "c"): 45})
    folds = source_folds(samples)

    def fit_predict(train_mask: np.ndarray, test: np.ndarray) -> np.ndarray:
        assert not train_mask[test].any()
        assert train_mask.sum() == len(samples) - len(test)
        return np.tile([[0.25, 0.75]], (len(test), 1))

    oof = out_of_fold(folds, len(samples), fit_predict)
    assert not np.isnan(oof).any() and oof.shape == (len(samples), 2)


def test_expected_calibration_error_by_hand() -> None:
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    # bin 0.9: accuracy 0.5 vs 0.9 → 0.4, half the photos; bin 0.6: accuracy 1 vs 0.6 → 0.4
    assert abs(expected_calibration_error(probabilities, labels) - 0.4) < 1e-9


def test_temperature_cools_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    logits = rng.normal(size=(2000, 4))
    logits[np.arange(2000), labels] += 1.0
    overconfident = np.log(softmax(logits * 4))  # right 60 % of the time, sure 99 %
    head = softmax(overconfident)
    fusion, trials = choose_fusion(head, np.zeros((2000, 1000)), np.zeros((1000, 4)), labels)
    assert fusion.temperature > 2.5
    after = fusion.apply(head, None, None)
    assert expected_calibration_error(after, labels) < expected_calibration_error(head, labels)
    assert trials[0]["imagenet_weight"] == 0.0


def test_thresholds_reach_the_precision_target_and_tag_the_most_photos() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, 3000)
    confidence = rng.uniform(0.2, 1.0, 3000)
    right = rng.uniform(size=3000) < confidence  # calibrated: p is the chance of being right
    top = np.where(right, labels, (labels + 1) % 5)
    probabilities = np.full((3000, 5), 0.0)
    probabilities[np.arange(3000), top] = confidence
    rest = (1 - confidence) / 4
    for k in range(5):
        probabilities[:, k] = np.where(top == k, confidence, rest)
    chosen = choose_thresholds(probabilities, labels, list("abcde"), target=0.9)
    global_only = chosen["global_only"]
    assert global_only["tag_precision"] >= 0.9
    assert chosen["tag_precision"] >= 0.9
    outcome = tag_outcome(probabilities, labels, chosen["min_probability"] - 0.05, 1.0)
    assert outcome.correct_tags / outcome.tags < 0.9  # any looser first threshold misses
    assert 0.75 <= chosen["min_probability"] <= 0.9


def test_reliable_classes_get_lower_thresholds_and_unreliable_ones_higher() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    labels = rng.integers(0, 3, n)
    confidence = rng.uniform(0.3, 1.0, n)
    # class 0 is always right when predicted; class 1 is right as often as p says;
    # class 2 is predicted for photos of class 1 half the time, whatever p says
    top = labels.copy()
    shaky = (labels == 1) & (rng.uniform(size=n) > confidence)
    top[shaky] = 0
    top[(labels == 1) & (rng.uniform(size=n) < 0.5)] = 2
    probabilities = np.zeros((n, 3))
    for k in range(3):
        probabilities[:, k] = np.where(top == k, confidence, (1 - confidence) / 2)
    chosen = choose_thresholds(probabilities, labels, ["A", "B", "C"], target=0.9)
    per_class = chosen["class_thresholds"]
    assert per_class["C"] == 1.0  # C is wrong half the time at any confidence: never written
    assert chosen["tag_precision"] >= 0.9
    assert chosen["tag_hit_rate"] >= chosen["global_only"]["tag_hit_rate"]


def test_training_tags_exactly_as_the_shipped_policies_do() -> None:
    """The rules live twice (vectorised for training, per photo in the plugins): they agree."""
    from scened.classes import CLASSES
    from scened.types import PolicyContext, Prediction
    from scened_plugins.policies import DefaultPolicy, precision_policy
    from scened_training.evaluate import spec_policy_outcome
    from scened_training.selection import precision_writes

    rng = np.random.default_rng(5)
    probabilities = softmax(rng.normal(size=(400, len(CLASSES))) * rng.uniform(0.5, 6, (400, 1)))
    labels = rng.integers(0, len(CLASSES), 400)
    thresholds = {"Cat": 0.3, "Dog": 1.0}
    first = np.array([thresholds.get(c, 0.5) for c in CLASSES])
    order, write1, write2 = precision_writes(probabilities, first, 0.3)
    policy = precision_policy(
        {"min_probability": 0.5, "second_probability": 0.3, "class_thresholds": thresholds},
        PolicyContext(labels=CLASSES),
    )
    spec = DefaultPolicy()
    spec_tags = spec_correct = spec_unknown = 0
    for i, row in enumerate(probabilities):
        prediction = Prediction(tuple(float(p) for p in row), CLASSES, "m")
        expected = [CLASSES[k] for k, on in zip(order[i], (write1[i], write2[i]), strict=True)
                    if on]  # fmt: skip
        assert policy.choose(prediction) == expected
        chosen = spec.choose(prediction)
        spec_tags += len(chosen)
        spec_correct += CLASSES[labels[i]] in chosen
        spec_unknown += chosen == ["Unknown"]
    outcome = spec_policy_outcome(probabilities, labels)
    assert outcome["tag_precision"] == pytest.approx(spec_correct / spec_tags)
    assert outcome["unknown_share"] == pytest.approx(spec_unknown / 400)
