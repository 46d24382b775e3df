"""Labels and features in a real state database."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scened.daemon.state import PhotoRecord, StateDB
from scened.learning.store import (
    add_labels,
    dequantise,
    get_features,
    library_features,
    list_labels,
    put_features,
    quantise,
)


def test_a_later_decision_replaces_an_earlier_one_and_repeats_count_once(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    photo = tmp_path / "a.jpg"
    assert add_labels(db, "lib", photo, [("Beach", True), ("Nature", False)], "file") == 2
    assert add_labels(db, "lib", photo, [("Beach", True)], "review") == 0
    assert add_labels(db, "lib", photo, [("Beach", False)], "review") == 1

    labels = list_labels(db, ["lib"])

    assert [(lb.class_name, lb.positive, lb.origin) for lb in labels] == [
        ("Beach", False, "review"), ("Nature", False, "file"),
    ]  # fmt: skip
    assert list_labels(db, ["other"]) == []
    db.forget([photo])
    assert list_labels(db) == []


def test_features_are_about_a_kilobyte_and_close_to_the_original(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, 1000).astype(np.float32)
    blob = quantise(logits)
    assert len(blob) == 1008
    assert np.abs(dequantise(blob) - logits).max() <= (logits.max() - logits.min()) / 255

    db = StateDB.open(tmp_path)
    photo = tmp_path / "a.jpg"
    db.record(PhotoRecord("lib", photo, 1, 2, 3, 4, "h", "base", "{}", None, (), "tagged"))
    probs = np.full(36, 1 / 36, np.float32)
    put_features(db, [(photo, "base", probs, logits)])

    stored = get_features(db, photo)
    assert stored is not None and stored.model_id == "base"
    assert np.allclose(stored.probabilities, probs, atol=1e-3)
    assert [p for p, _ in library_features(db, "lib", "base")] == [photo]
    assert list(library_features(db, "lib", "another-model")) == []
