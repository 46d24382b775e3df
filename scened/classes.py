"""The 36 camera-scene classes, in the order of the model's outputs (the original design)."""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "Animals", "Airplane", "Baby", "Beach", "Bike", "Bird", "Bridge", "Building",
    "Cake", "Car", "Cat", "Child", "Coast", "Dance", "Dog", "Family", "Flower",
    "Food", "Forest", "Fruit", "Holiday", "House", "Lake", "Landmark", "Meme",
    "Mountain", "Nature", "Night", "Painting", "Portrait", "Road", "Sky", "Snow",
    "Sports", "Sunset", "Text document",
)  # fmt: skip

#: The tag the default policy emits when the model is not confident.
UNKNOWN_TAG = "Unknown"
