"""The ImageNet prior, its fusion with the head, and temperature calibration."""

from __future__ import annotations

import numpy as np

from scened.classes import CLASSES
from scened.model.fusion import Fusion, imagenet_prior, softmax
from scened.model.imagenet_map import load_mapping, mapping_rows

DOG = CLASSES.index("Dog")
CAT = CLASSES.index("Cat")


def _logits_for(imagenet_name: str, strength: float = 12.0) -> np.ndarray:
    index = next(r.index for r in mapping_rows() if r.name == imagenet_name)
    logits = np.zeros((1, 1000), np.float32)
    logits[0, index] = strength
    return logits


def test_prior_follows_the_table_and_never_rules_a_class_out() -> None:
    mapping = load_mapping(None, CLASSES)
    prior = imagenet_prior(_logits_for("golden retriever"), mapping, floor=0.02)
    assert prior.shape == (1, len(CLASSES))
    assert abs(float(prior.sum()) - 1.0) < 1e-5
    assert prior[0].argmax() == DOG and prior[0, DOG] > 0.9
    assert prior.min() >= 0.02 / len(CLASSES) - 1e-9  # Meme, Family: possible, unlikely


def test_unmapped_imagenet_classes_spread_evenly() -> None:
    mapping = load_mapping(None, CLASSES)
    prior = imagenet_prior(_logits_for("church"), mapping, floor=0.0)  # church maps to nothing
    assert np.allclose(prior, 1 / len(CLASSES), atol=2e-3)


def test_without_the_prior_and_at_temperature_one_the_head_is_unchanged() -> None:
    head = softmax(np.random.default_rng(1).normal(size=(5, len(CLASSES))) * 3)
    fused = Fusion().apply(head, np.zeros((5, 1000), np.float32), load_mapping(None, CLASSES))
    assert np.allclose(fused, head, atol=1e-6)


def test_the_prior_settles_what_the_head_is_unsure_of() -> None:
    head = np.full((1, len(CLASSES)), 0.01, np.float32)
    head[0, CAT], head[0, DOG] = 0.36, 0.30  # the head leans to Cat
    mapping = load_mapping(None, CLASSES)
    logits = _logits_for("golden retriever")
    assert Fusion(imagenet_weight=0.0).apply(head, logits, mapping).argmax() == CAT
    assert Fusion(imagenet_weight=0.5).apply(head, logits, mapping).argmax() == DOG


def test_temperature_changes_confidence_not_the_ranking() -> None:
    head = softmax(np.array([[4.0, 1.0, 0.0] + [0.0] * (len(CLASSES) - 3)]))
    hot = Fusion(temperature=2.0).apply(head, None, None)
    cold = Fusion(temperature=0.5).apply(head, None, None)
    assert hot.argmax() == cold.argmax() == 0
    assert hot.max() < head.max() < cold.max()


def test_settings_round_trip_through_model_json() -> None:
    fusion = Fusion(imagenet_weight=0.4, temperature=1.3, prior_floor=0.05)
    assert Fusion.from_json(fusion.to_json()) == fusion
    assert Fusion.from_json({}) == Fusion()
