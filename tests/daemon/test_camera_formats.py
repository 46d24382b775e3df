"""A run tags the real camera files (a phone's HEIC, a camera's DNG) as it tags JPEGs.

A regression test: the runner decodes from the bytes it read for hashing, and a RAW
file's bytes must go to LibRaw (by the file's suffix), not to Pillow, which opens a
DNG as a TIFF and cannot decode it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from scened.imaging import load_for_model

from . import daemon_helpers as helpers

CAMERA_FILES = ("IMG_1361.dng", "IMG_3578.heic")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _subjects(path: Path) -> list[str]:
    read = subprocess.run(
        ["exiftool", "-j", "-XMP-dc:Subject", str(path)], check=True, capture_output=True, text=True
    )
    subjects = json.loads(read.stdout)[0].get("Subject", [])
    return [subjects] if isinstance(subjects, str) else list(subjects)


def test_a_run_tags_a_dng_in_the_file_and_a_heic_in_a_sidecar(
    library: Path, shared_dir: Path, run_once: helpers.Runner
) -> None:
    photos = []
    for name in CAMERA_FILES:
        photo = library / name
        shutil.copyfile(shared_dir / "data" / "camera-files" / name, photo)
        photos.append(photo)
    dng, heic = photos
    heic_before = _sha256(heic)
    dng_pixels = load_for_model(dng, size=224)
    options = {"sinks": [{"type": "xmp"}], "policy": {"type": "threshold", "min_probability": 0.2}}

    summary = run_once(**options)

    assert summary.failures == []
    assert summary.tagged == 2
    assert _subjects(dng), "the DNG has no keywords"  # DNG: written into the file...
    assert (load_for_model(dng, size=224) == dng_pixels).all()  # ...its picture untouched
    assert not dng.with_suffix(".xmp").exists()
    assert _sha256(heic) == heic_before  # HEIC: left byte for byte, keywords in a sidecar
    assert _subjects(heic.with_suffix(".xmp")), "the HEIC's sidecar has no keywords"
