"""Thumbnails of the photos under review, made on the fly and kept in the state folder.

A thumbnail is the upright photo (EXIF orientation; a RAW file's embedded preview;
HEIC through pillow-heif: :func:`scened.imaging.decode_rgb`, the decoder tagging
uses) scaled to fit 256 x 256 pixels, as a JPEG.  It is cached as
``<state_dir>/thumbnails/<digest>.jpg``, the digest of the photo's path, size and
modification time: an edited photo gets a new thumbnail.  The digest is also the
thumbnail's ETag.  Nothing removes thumbnails of photos edited since (a few
kilobytes each): the folder can be deleted at any time.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
from pathlib import Path

from PIL import Image

from scened.imaging import decode_rgb

log = logging.getLogger(__name__)

#: Longest side of a thumbnail, in pixels.
THUMB_SIZE = 256
JPEG_QUALITY = 82


def cache_key(path: Path, size: int, mtime_ns: int) -> str:
    """The digest naming the thumbnail of ``path`` as it is now."""
    material = os.fsencode(path) + b"\0" + f"{size}\0{mtime_ns}".encode()
    return hashlib.sha256(material).hexdigest()[:40]


def thumbnail(path: Path, cache: Path) -> tuple[bytes, str]:
    """The JPEG thumbnail of ``path`` and its digest, from ``cache`` or made now.

    Raises :class:`OSError` when the photo cannot be read and
    :class:`~scened.errors.ImageError` when it cannot be decoded.
    """
    stat = path.stat()
    key = cache_key(path, stat.st_size, stat.st_mtime_ns)
    cached = cache / f"{key}.jpg"
    try:
        return cached.read_bytes(), key
    except FileNotFoundError:
        pass
    data = render(path)
    try:
        _write_atomically(cached, data)
    except OSError as exc:  # a read-only state folder still gets its thumbnails
        log.warning("cannot keep the thumbnail of %s: %s", path, exc)
    return data, key


def render(path: Path) -> bytes:
    """``path`` as an upright JPEG fitting ``THUMB_SIZE`` x ``THUMB_SIZE`` pixels."""
    image = decode_rgb(path, size=THUMB_SIZE)
    image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
