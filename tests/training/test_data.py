"""The training tree: sources from the manifest, and the pixels tagging sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from scened.imaging import load_for_model
from scened_training.data import DatasetError, Sample, discover, model_input


def test_training_sees_exactly_the_pixels_tagging_sees(real_photos: list[Path]) -> None:
    for photo in real_photos:
        for size in (160, 224):
            trained_on = model_input(Sample(photo, 0), size, variant=0, seed=1)
            assert trained_on.dtype == np.float32
            assert np.array_equal(trained_on, load_for_model(photo, size=size)), photo


def test_augmented_views_differ_but_keep_the_size(real_photos: list[Path]) -> None:
    sample = Sample(real_photos[0], 0)
    view = model_input(sample, 160, variant=1, seed=1)
    assert view.shape == (160, 160, 3)
    assert not np.array_equal(view, model_input(sample, 160, variant=0, seed=1))
    assert np.array_equal(view, model_input(sample, 160, variant=1, seed=1))  # reproducible


def test_sources_come_from_the_manifest(shared_dir: Path) -> None:
    samples = discover(shared_dir / "data" / "scenes" / "train", _classes(shared_dir))
    by_name = {(s.path.parent.name, s.path.name): s.source for s in samples}
    manifest = (shared_dir / "data" / "scenes" / "MANIFEST.tsv").read_text().splitlines()[1:]
    for line in manifest[:: max(1, len(manifest) // 200)]:
        cls, name, source, _ = line.split("\t", 3)
        assert by_name[(cls, name)] == source
    assert len({s.source for s in samples}) >= 40


def test_without_a_manifest_the_name_prefix_is_the_source(shared_dir: Path, tmp_path: Path) -> None:
    photo = next((shared_dir / "data" / "scenes" / "train" / "Cat").glob("*.jpg"))
    (tmp_path / "Cat").mkdir()
    shutil.copy(photo, tmp_path / "Cat" / "mine__a.jpg")
    shutil.copy(photo, tmp_path / "Cat" / "plain.jpg")
    sources = {s.path.name: s.source for s in discover(tmp_path, ("Cat",))}
    assert sources == {"mine__a.jpg": "mine", "plain.jpg": "unknown"}


def test_a_manifest_without_the_columns_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Cat").mkdir()
    (tmp_path / "MANIFEST.tsv").write_text("a\tb\n")
    with pytest.raises(DatasetError, match="class, file and source"):
        discover(tmp_path, ("Cat",))


def _classes(shared_dir: Path) -> tuple[str, ...]:
    root = shared_dir / "data" / "scenes" / "train"
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
