"""Test images made from the shared real photos: distinct picks, near duplicates, tiny ones."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import imagehash
from PIL import Image

# Photos closer than this (pHash bits) are not used as "different" pictures in tests:
# the shared data set holds a few near-identical photos of its own.
DISTINCT_BITS = 16


def distinct_photos(folder: Path, count: int) -> list[bytes]:
    """The first ``count`` photos of ``folder`` (sorted) that differ clearly from each other."""
    picked: list[bytes] = []
    hashes: list[imagehash.ImageHash] = []
    for path in sorted(folder.glob("*.jpg")):
        data = path.read_bytes()
        phash = imagehash.phash(Image.open(io.BytesIO(data)).convert("RGB"))
        if all(phash - known > DISTINCT_BITS for known in hashes):
            picked.append(data)
            hashes.append(phash)
        if len(picked) == count:
            return picked
    raise AssertionError(f"{folder} has fewer than {count} clearly different photos")


def encode(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    """``image`` encoded in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def open_rgb(data: bytes) -> Image.Image:
    """Decode to RGB."""
    return Image.open(io.BytesIO(data)).convert("RGB")


def near_duplicate(data: bytes) -> bytes:
    """The same photo scaled to 90 % and re-encoded at a low JPEG quality."""
    image = open_rgb(data)
    smaller = image.resize((image.width * 9 // 10, image.height * 9 // 10))
    return encode(smaller, quality=60)


def tiny(data: bytes, side: int = 48) -> bytes:
    """The photo shrunk to ``side`` pixels on its longer edge."""
    image = open_rgb(data)
    image.thumbnail((side, side))
    return encode(image)


def transparent_png(data: bytes) -> bytes:
    """The photo as an RGBA PNG with a half-transparent left half."""
    image = open_rgb(data).convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(128, (0, 0, image.width // 2, image.height))
    image.putalpha(alpha)
    return encode(image, "PNG")


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    """``data`` as a base64 data: URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def phash_of(data: bytes) -> imagehash.ImageHash:
    """The perceptual hash of an encoded image."""
    return imagehash.phash(open_rgb(data))


def seen_on_white(data: bytes) -> bytes:
    """An image with transparency as a viewer shows it on a white page, as a PNG."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    white = Image.new("RGBA", image.size, "white")
    return encode(Image.alpha_composite(white, image).convert("RGB"), "PNG")
