"""An unchanged rescan reads no photo at all, yet still notices what changed or went.

The rescan fast path settles unchanged photos in the feeder from one query of the
state; these tests make every file read fail during the rescan to prove that the
unchanged photos are never opened, and check that an edited photo, a new one and a
deleted one are still handled as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scened.classes import CLASSES
from scened.config import Config, parse_config
from scened.daemon import runner
from scened.daemon.jobs import RunSummary
from scened.daemon.service import run_library, settings_for
from scened.plugins import get_plugin_manager

from .torture_helpers import real_image, save


class BrightnessClassifier:
    """A stand-in for the model: bright photos are Sky, dark ones Night."""

    classes = CLASSES
    input_size = 160
    model_id = "brightness-1"

    def __init__(self) -> None:
        self.images = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.images += len(batch)
        out = np.full((len(batch), len(CLASSES)), 0.001)
        for row, image in zip(out, batch, strict=True):
            row[CLASSES.index("Sky" if image.mean() > 100 else "Night")] = 1.0
        return np.asarray(out / out.sum(axis=1, keepdims=True))


def config_for(library: Path, state: Path) -> Config:
    return parse_config(
        {"state_dir": str(state),
         "libraries": [{"path": str(library), "name": "lib", "sinks": [{"type": "xmp"}]}]},
        None,
    )  # fmt: skip


def run(config: Config, classifier: BrightnessClassifier) -> RunSummary:
    return run_library(
        config.libraries[0], config=config, classifier=classifier, pm=get_plugin_manager(),
        settings=settings_for(config, dry_run=False),
    )  # fmt: skip


def test_unchanged_rescan_opens_no_photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "library"
    photos = [save(real_image(i, (160, 120)), library / f"d{i % 3}" / f"p{i}.jpg", quality=90)
              for i in range(30)]  # fmt: skip
    config, classifier = config_for(library, tmp_path / "state"), BrightnessClassifier()
    first = run(config, classifier)
    assert (first.tagged, classifier.images) == (30, 30)

    def no_reading(path: Path) -> tuple[str, bytes | None]:
        raise AssertionError(f"{path} was read")

    with monkeypatch.context() as patch:
        patch.setattr(runner, "read_photo", no_reading)
        again = run(config, classifier)
    assert (again.found, again.unchanged, again.failed, classifier.images) == (30, 30, 0, 30)

    photos[0].unlink()
    save(real_image(40, (160, 120)), library / "new.jpg", quality=90)
    save(real_image(41, (160, 120)), photos[1], quality=90)  # edited: new content

    third = run(config, classifier)

    assert (third.found, third.unchanged, third.tagged, third.pruned) == (30, 28, 2, 1)
    assert classifier.images == 32
