"""The training folder tree (``<Class>/<image>``), its split, decoding and augmentation.

Images are brought to the input size exactly as the SPEC says, with
``keras.preprocessing.image.smart_resize`` (aspect-preserving centre crop,
bilinear), after EXIF orientation.  Augmentation works on the decoded photo
before that crop: random resized crop, horizontal flip, colour jitter and random
greyscale (many photos of some classes are greyscale, so colour must not be a
shortcut to the class).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from keras.preprocessing.image import smart_resize
from PIL import Image, ImageEnhance, ImageOps

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


class DatasetError(ValueError):
    """The folder tree does not fit the class list."""


def discover(data_dir: Path, classes: tuple[str, ...]) -> list[Sample]:
    """Every image under ``data_dir/<Class>/``; a folder that is not a class is an error."""
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: not a folder")
    index = {name: i for i, name in enumerate(classes)}
    samples = []
    for folder in sorted(
        p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if folder.name not in index:
            raise DatasetError(f"{folder}: folder {folder.name!r} is not one of the classes")
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                samples.append(Sample(path, index[folder.name]))
    if not samples:
        raise DatasetError(f"{data_dir}: no images found in <Class>/ folders")
    return samples


def stratified_split(
    samples: list[Sample], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Per class, ``val_fraction`` of the images (at least one where a class has two)."""
    rng = random.Random(seed)
    train: list[Sample] = []
    val: list[Sample] = []
    by_label: dict[int, list[Sample]] = {}
    for sample in samples:
        by_label.setdefault(sample.label, []).append(sample)
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        n_val = round(len(group) * val_fraction)
        if len(group) >= 2:
            n_val = max(1, n_val)
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val


def class_counts(samples: list[Sample], num_classes: int) -> list[int]:
    counts = Counter(s.label for s in samples)
    return [counts.get(i, 0) for i in range(num_classes)]


def load_rgb(path: Path) -> Image.Image:
    """Decode upright RGB; transparency is flattened onto white."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB")


def to_model_input(image: Image.Image, size: int) -> np.ndarray:
    """Centre crop + resize with keras ``smart_resize``: float32 0-255, (size, size, 3)."""
    return np.asarray(smart_resize(np.asarray(image, dtype=np.float32), (size, size)))


def augment(image: Image.Image, rng: random.Random) -> Image.Image:
    """One random view of the photo (the base is frozen, so views are precomputed)."""
    width, height = image.size
    area = width * height * rng.uniform(0.55, 1.0)
    aspect = rng.uniform(3 / 4, 4 / 3)
    crop_w = min(width, round((area * aspect) ** 0.5))
    crop_h = min(height, round((area / aspect) ** 0.5))
    left = rng.randint(0, width - crop_w)
    top = rng.randint(0, height - crop_h)
    view = image.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        view = ImageOps.mirror(view)
    view = ImageEnhance.Brightness(view).enhance(rng.uniform(0.75, 1.25))
    view = ImageEnhance.Contrast(view).enhance(rng.uniform(0.75, 1.25))
    view = ImageEnhance.Color(view).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.2:
        view = ImageOps.grayscale(view).convert("RGB")
    return view


def model_input(sample: Sample, size: int, variant: int, seed: int) -> np.ndarray:
    """Variant 0 is the photo itself; variant k > 0 a reproducible random view."""
    image = load_rgb(sample.path)
    if variant > 0:
        image = augment(image, random.Random(f"{seed}:{variant}:{sample.path.name}"))
    return to_model_input(image, size)
