"""Builds realistic photo libraries for the benchmarks (never committed: made on the fly).

Camera-size JPEGs are made by upscaling real photos from ``../shared`` (at most 256 px)
to about 12 megapixels, with camera EXIF (make, model, date, orientation) and an
embedded EXIF thumbnail, as a camera writes them; some PNGs are mixed in.  Encoding a
12 MP JPEG is slow, so a few distinct *bases* are encoded and every photo is a copy of
one with a unique ``ImageUniqueID`` patched into its EXIF: every file has its own
content hash (scened classifies each, as it would a real library) at almost no cost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCENED_SHARED", REPO.parent / "shared"))
SCENES = SHARED / "data" / "scenes" / "train"
#: 12 MP, the 4:3 sensor of most phones and compact cameras.
CAMERA_SIZE = (4000, 3000)
#: Placeholder replaced by a per-file id (same length, so the EXIF stays valid).
UNIQUE_PLACEHOLDER = b"SCENEDBENCH" + b"0" * 21
EXIF_IMAGE_UNIQUE_ID = 0xA420
EXIF_IFD = 0x8769


@dataclass(frozen=True)
class Library:
    root: Path
    jpegs: list[Path]
    pngs: list[Path]

    @property
    def photos(self) -> list[Path]:
        return self.jpegs + self.pngs

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.photos)


def source_photos(count: int) -> list[Path]:
    """``count`` real photos, taken round-robin across the classes (deterministic)."""
    if not SCENES.is_dir():
        raise SystemExit(f"real photos not found at {SCENES}: set SCENED_SHARED")
    per_class = [sorted(folder.glob("*.jpg")) for folder in sorted(SCENES.iterdir())]
    picks: list[Path] = []
    index = 0
    while len(picks) < count:
        for files in per_class:
            if index < len(files) and len(picks) < count:
                picks.append(files[index])
        index += 1
    return picks


def _camera_exif(image: Image.Image) -> bytes:
    exif = image.getexif()
    exif[0x010F] = "SCENED"  # Make
    exif[0x0110] = "Bench 12MP"  # Model
    exif[0x0132] = "2024:06:01 12:00:00"  # DateTime
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(EXIF_IFD)[EXIF_IMAGE_UNIQUE_ID] = UNIQUE_PLACEHOLDER.decode()
    return exif.tobytes()


#: Standard deviation of the added sensor-like grain; 0 keeps the upscaled photo smooth.
DEFAULT_GRAIN = 6.0


def upscale(
    source: Path, size: tuple[int, int] = CAMERA_SIZE, grain: float = DEFAULT_GRAIN
) -> Image.Image:
    """The real photo cropped to the camera's aspect ratio and upscaled (bicubic)."""
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    target_ratio = size[0] / size[1]
    width, height = rgb.size
    if width / height > target_ratio:
        crop_w = int(height * target_ratio)
        box = ((width - crop_w) // 2, 0, (width - crop_w) // 2 + crop_w, height)
    else:
        crop_h = int(width / target_ratio)
        box = (0, (height - crop_h) // 2, width, (height - crop_h) // 2 + crop_h)
    big = rgb.resize(size, Image.Resampling.BICUBIC, box=box)
    if grain <= 0:
        return big
    return _grain(big, seed=len(source.name) * 7919 + size[0], sigma=grain)


def _grain(image: Image.Image, seed: int, sigma: float = 6.0) -> Image.Image:
    """Sensor-like noise: an upscaled photo is too smooth, so its JPEG would be far
    smaller (and faster to decode) than a real camera's (3-5 MB at 12 MP)."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.int16)
    noise = rng.normal(0.0, sigma, size=(*pixels.shape[:2], 1)).astype(np.int16)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def make_bases(
    folder: Path, sources: list[Path], size: tuple[int, int], grain: float = DEFAULT_GRAIN
) -> list[Path]:
    """One camera JPEG per source photo, with EXIF and (via exiftool) a thumbnail."""
    folder.mkdir(parents=True, exist_ok=True)
    bases: list[Path] = []
    for i, source in enumerate(sources):
        image = upscale(source, size, grain)
        base = folder / f"base{i:03d}.jpg"
        image.save(base, quality=92, exif=_camera_exif(image), subsampling=2)
        thumb = image.copy()
        thumb.thumbnail((160, 120))
        thumb.save(folder / f"base{i:03d}_thumb.jpg", quality=80)
        bases.append(base)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-ThumbnailImage<=%d%f_thumb.jpg",
         *map(str, bases)],
        check=True,
    )  # fmt: skip
    for base in bases:
        if UNIQUE_PLACEHOLDER not in base.read_bytes():
            raise RuntimeError(f"{base}: EXIF placeholder lost")
    return bases


def _unique_copies(bases: list[Path], dest: Path, count: int) -> Iterator[Path]:
    contents = [base.read_bytes() for base in bases]
    for i in range(count):
        data = contents[i % len(contents)]
        unique = f"SCENEDBENCH{i:021d}".encode()
        path = dest / f"{i // 100:03d}" / f"IMG_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.replace(UNIQUE_PLACEHOLDER, unique, 1))
        yield path


def build_library(
    root: Path,
    *,
    jpegs: int,
    pngs: int,
    bases: int = 12,
    size: tuple[int, int] = CAMERA_SIZE,
    png_size: tuple[int, int] = (2000, 1500),
    grain: float = DEFAULT_GRAIN,
) -> Library:
    """``jpegs`` camera JPEGs and ``pngs`` PNGs (screenshots/exports) under ``root``."""
    work = root.parent / f"{root.name}-bases"
    made = make_bases(work, source_photos(bases), size, grain)
    jpeg_paths = list(_unique_copies(made, root, jpegs))
    png_paths: list[Path] = []
    for i, source in enumerate(source_photos(bases + pngs)[bases:]):
        path = root / "exports" / f"export_{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        upscale(source, png_size).save(path, compress_level=1)
        png_paths.append(path)
    shutil.rmtree(work)
    return Library(root, jpeg_paths, png_paths)
