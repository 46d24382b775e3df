"""scened's 36 scene classes in output order (docs/tags.md lists them).

A copy of ``scened.classes.CLASSES``: training never imports the daemon's
runtime.  ``tests/training/test_classes.py`` keeps the two lists identical.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "Animals", "Airplane", "Baby", "Beach", "Bike", "Bird", "Bridge", "Building",
    "Cake", "Car", "Cat", "Child", "Coast", "Dance", "Dog", "Family", "Flower",
    "Food", "Forest", "Fruit", "Holiday", "House", "Lake", "Landmark", "Meme",
    "Mountain", "Nature", "Night", "Painting", "Portrait", "Road", "Sky", "Snow",
    "Sports", "Sunset", "Text document",
)  # fmt: skip
