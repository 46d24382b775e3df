"""Turning downloaded bytes into a dataset image, or a reason to skip them."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image

JPEG_QUALITY = 92


class UnusableImageError(Exception):
    """The bytes are not a usable image; the message says why (one word first)."""


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to be written: RGB JPEG bytes and what identifies it."""

    jpeg: bytes
    width: int
    height: int
    sha256: str
    phash: imagehash.ImageHash


def decode_image(data: bytes) -> Image.Image:
    """Open, verify and fully load ``data``; raise UnusableImageError if it is not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(data)).verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise UnusableImageError(f"not-an-image: {exc}") from exc
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency flattened onto white (as a photo viewer shows it)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def sha256_hex(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def prepare_image(data: bytes, min_side: int) -> PreparedImage:
    """Decode, check the size, convert to an RGB JPEG and hash it."""
    image = decode_image(data)
    width, height = image.size
    if min(width, height) < min_side:
        raise UnusableImageError(f"tiny: {width}x{height} is under {min_side} px")
    rgb = to_rgb(image)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    jpeg = buffer.getvalue()
    return PreparedImage(jpeg, width, height, sha256_hex(jpeg), imagehash.phash(rgb))


def fingerprint_file(data: bytes) -> tuple[str, imagehash.ImageHash]:
    """The SHA-256 and perceptual hash of an image file already in the dataset."""
    return sha256_hex(data), imagehash.phash(to_rgb(decode_image(data)))
