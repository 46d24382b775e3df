"""training/ keeps its own copy of the class list: it must equal the runtime's."""

from __future__ import annotations

from scened.classes import CLASSES
from scened_training.classes import CLASSES as TRAINING_CLASSES


def test_class_lists_identical() -> None:
    assert TRAINING_CLASSES == CLASSES
    assert len(CLASSES) == 36
