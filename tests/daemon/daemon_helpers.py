"""Helpers for the daemon tests: a colour classifier, a recording sink, real photos.

The classifier is a stand-in for the model (which these tests are not about): it
tags a mostly red photo ``Sunset``, green ``Forest`` and blue ``Sky``, exactly like
the tiny TFLite model that ``make_colour_model.py`` builds for the subprocess tests.
A module of the tests package: the daemon tests import it (``from . import
daemon_helpers``), and so do the CLI, learning, plugin and torture tests.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from scened import hookimpl
from scened.classes import CLASSES
from scened.config import Config
from scened.daemon.jobs import RunSummary
from scened.hookspecs import RegisterSink
from scened.types import Prediction, Sink, TagResult

COLOURS = {"red": (220, 30, 30), "green": (30, 220, 30), "blue": (30, 30, 220)}
COLOUR_TAGS = {"red": "Sunset", "green": "Forest", "blue": "Sky"}
#: Class index per RGB channel (Sunset, Forest, Sky).
CHANNEL_CLASS = [CLASSES.index("Sunset"), CLASSES.index("Forest"), CLASSES.index("Sky")]
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".webp": "WEBP"}


class ColourClassifier:
    """softmax(20 * mean RGB / 255) onto Sunset/Forest/Sky; counts the images it saw."""

    classes = CLASSES
    input_size = 160

    def __init__(self, model_id: str = "colour-1") -> None:
        self.model_id = model_id
        self.batches: list[int] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(len(batch))
        means = batch.reshape(len(batch), -1, 3).mean(axis=1) / 255.0
        logits = np.zeros((len(batch), len(CLASSES)))
        logits[:, CHANNEL_CLASS] = 20 * means
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    @property
    def images_seen(self) -> int:
        return sum(self.batches)


class RecordingSink:
    """A real sink that remembers each write (the file itself is not touched)."""

    def __init__(self, log: list[tuple[Path, tuple[str, ...], bool]]) -> None:
        self.log = log

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        if result.path.name.startswith("sinkfail"):
            raise OSError(28, "No space left on device")
        self.log.append((result.path, result.tags, dry_run))

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        raise AssertionError("the daemon never untags")

    def close(self) -> None:
        pass


class RecorderPlugin:
    """Registers the ``record`` sink and records ``photo_tagged`` events."""

    def __init__(self) -> None:
        self.writes: list[tuple[Path, tuple[str, ...], bool]] = []
        self.events: list[dict[str, Any]] = []

    @hookimpl
    def register_sinks(self, register: RegisterSink) -> None:
        def factory(options: Mapping[str, Any]) -> Sink:
            return RecordingSink(self.writes)

        register("record", factory)

    @hookimpl
    def photo_tagged(
        self, path: Path, tags: list[str], prediction: Prediction, library: str, dry_run: bool
    ) -> None:
        self.events.append({"path": path, "tags": tags, "library": library, "dry_run": dry_run})


def make_photo(path: Path, colour: str = "red", size: tuple[int, int] = (96, 64)) -> Path:
    """A real image file of a solid colour with a little noise, in the suffix's format."""
    rng = np.random.default_rng(zlib.crc32(f"{path.name}:{colour}".encode()))
    pixels = np.clip(np.array(COLOURS[colour]) + rng.integers(-10, 10, (*size[::-1], 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path, FORMATS[path.suffix.lower()])
    return path


ConfigFactory = Callable[..., Config]
Runner = Callable[..., RunSummary]
