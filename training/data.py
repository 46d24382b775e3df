"""The training folder tree (``<Class>/<image>``), its sources, split, decoding, augmentation.

Images are decoded and cropped by scened's own decoder (``scened.imaging``:
reduced-scale JPEG decoding, EXIF orientation, centre crop, antialiased
resize), so the head is trained on exactly the pixels tagging gives it.
Augmentation works on the decoded photo before that crop: random resized crop,
horizontal flip, colour jitter and random greyscale (many photos of some classes
are greyscale, so colour must not be a shortcut to the class).

Each photo's *source* (the dataset it came from) is read from ``MANIFEST.tsv``
beside or above the tree, else from the ``<source>__`` prefix of its name; the
source-held-out estimate (:mod:`.selection`) holds out one source at a time.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from scened.imaging import center_crop_resize, decode_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    source: str = "unknown"


class DatasetError(ValueError):
    """The folder tree does not fit the class list."""


def discover(data_dir: Path, classes: tuple[str, ...]) -> list[Sample]:
    """Every image under ``data_dir/<Class>/``; a folder that is not a class is an error."""
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: not a folder")
    index = {name: i for i, name in enumerate(classes)}
    sources = read_manifest(data_dir)
    samples = []
    for folder in sorted(
        p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if folder.name not in index:
            raise DatasetError(f"{folder}: folder {folder.name!r} is not one of the classes")
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                source = sources.get((folder.name, path.name)) or _source_from_name(path.name)
                samples.append(Sample(path, index[folder.name], source))
    if not samples:
        raise DatasetError(f"{data_dir}: no images found in <Class>/ folders")
    return samples


def read_manifest(data_dir: Path) -> dict[tuple[str, str], str]:
    """``(class, file) → source`` from ``MANIFEST.tsv`` in the tree or its parent folder."""
    for candidate in (data_dir / "MANIFEST.tsv", data_dir.parent / "MANIFEST.tsv"):
        if candidate.is_file():
            with candidate.open(encoding="utf-8", newline="") as handle:
                rows = csv.DictReader(handle, delimiter="\t")
                if not {"class", "file", "source"} <= set(rows.fieldnames or ()):
                    raise DatasetError(f"{candidate}: needs the columns class, file and source")
                return {(row["class"], row["file"]): row["source"] for row in rows}
    return {}


def _source_from_name(name: str) -> str:
    """``<source>__<name>.jpg`` → ``<source>``; a photo without the prefix is its own source."""
    prefix, separator, _ = name.partition("__")
    return prefix if separator else "unknown"


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


def load_rgb(path: Path, size: int) -> Image.Image:
    """The upright RGB photo as tagging decodes it for a ``size`` model input."""
    return decode_rgb(path, size=size)


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
    """Variant 0 is the photo exactly as tagging sees it; variant k > 0 a random view.

    Returned as float32 0-255 ``(size, size, 3)``: the model normalises itself.
    """
    image = load_rgb(sample.path, size)
    if variant > 0:
        image = augment(image, random.Random(f"{seed}:{variant}:{sample.path.name}"))
    return center_crop_resize(image, size).astype(np.float32)
