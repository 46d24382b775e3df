"""Camera RAW files (CR2, CR3, NEF, ARW, DNG, ...): decode the embedded preview through LibRaw.

Pillow cannot decode RAW files (at best it reads a tiny IFD0 thumbnail of the
TIFF-based ones), so they are opened with rawpy, the LibRaw bindings.  The model
only needs 160x160 pixels, so the camera's embedded preview (usually a JPEG of a
few megapixels) is used instead of demosaicing the sensor data: it is much
faster and it is what the camera itself rendered.  Only a file without a usable
preview is demosaiced, at half size.

Orientation: LibRaw reports the camera's orientation as ``sizes.flip`` (dcraw's
renumbering of the EXIF Orientation: 0 none, 3 180°, 5 90° counter-clockwise,
6 90° clockwise; 1, 2, 4 and 7 are mirrored).  Embedded previews are
stored as the sensor saw them.  LibRaw gives a JPEG preview that has no EXIF of
its own an EXIF block whose Orientation tag is ``flip``, a bitmap preview is
returned as stored, and ``postprocess`` rotates by itself; :func:`open_raw_preview`
returns the preview upright in every case.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import rawpy
from PIL import Image, ImageOps

from scened.errors import ImageError, ImageTooLargeError
from scened.formats import Decoder, suffixes

#: File name suffixes (lower case) of the RAW formats LibRaw decodes (the format table).
RAW_SUFFIXES = suffixes(decoder=Decoder.RAW)

#: ``sizes.flip`` (dcraw/LibRaw) -> the transpose that makes the stored image upright.
_FLIP_TO_TRANSPOSE = {
    1: Image.Transpose.FLIP_LEFT_RIGHT,
    2: Image.Transpose.FLIP_TOP_BOTTOM,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.TRANSPOSE,
    5: Image.Transpose.ROTATE_90,  # Pillow's ROTATE_90 is counter-clockwise
    6: Image.Transpose.ROTATE_270,  # 90° clockwise
    7: Image.Transpose.TRANSVERSE,
}

_EXIF_ORIENTATION = 0x0112


class NotRawError(ImageError):
    """LibRaw does not recognise the file as a RAW format (it may be another image)."""


def is_raw(path: Path | str) -> bool:
    """Whether ``path`` names a camera RAW file, by its suffix (any case)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def open_raw_preview(
    source: Path | str | bytes, *, max_pixels: int | None = None, name: Path | str | None = None
) -> Image.Image:
    """The RAW file's embedded preview (or half-size demosaic), upright and loaded.

    ``source`` is the file, or its bytes already read (``name``, the file's path, is
    then only used in messages).  Raises :class:`~scened.errors.ImageError` for
    anything LibRaw cannot read, and :class:`~scened.errors.ImageTooLargeError` when
    the image has more than ``max_pixels`` pixels.
    """
    path: Path | str | None = name
    if not isinstance(source, bytes):
        path = source
        _check_readable(source)
    opened = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    try:
        with rawpy.imread(opened) as raw:
            flip = raw.sizes.flip
            image = _embedded_preview(raw, flip, path)
            if image is None:
                width, height = raw.sizes.width, raw.sizes.height
                _check_size(width, height, max_pixels, path)
                pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                image = Image.fromarray(pixels)  # postprocess already applied the flip
    except rawpy.LibRawFileUnsupportedError:
        raise NotRawError(
            "not a RAW file LibRaw can read (unknown format, or truncated or corrupt)", path
        ) from None
    except (rawpy.LibRawIOError, rawpy.LibRawDataError) as exc:
        raise ImageError(f"RAW file is truncated or corrupt ({_message(exc)})", path) from None
    except rawpy.LibRawTooBigError as exc:
        raise ImageTooLargeError(
            f"RAW image too large for LibRaw ({_message(exc)})", path
        ) from None
    except rawpy.LibRawError as exc:
        raise ImageError(f"cannot decode RAW file: {_message(exc)}", path) from None
    _check_size(image.width, image.height, max_pixels, path)
    return image


def _embedded_preview(raw: rawpy.RawPy, flip: int, path: Path | str | None) -> Image.Image | None:
    """The camera's preview, upright; None when there is none that can be decoded."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        pixels = np.asarray(thumb.data, dtype=np.uint8)
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        return _apply_flip(Image.fromarray(pixels), flip)
    assert isinstance(thumb.data, bytes)
    try:
        image = Image.open(io.BytesIO(thumb.data))
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"embedded preview: {exc}", path) from None
    except (OSError, ValueError):
        return None  # a damaged preview: demosaic the sensor data instead
    orientation = image.getexif().get(_EXIF_ORIENTATION)
    if orientation not in (None, 1):  # the camera's EXIF, or the one LibRaw added
        return ImageOps.exif_transpose(image)
    return _apply_flip(image, flip)


def _apply_flip(image: Image.Image, flip: int) -> Image.Image:
    transpose = _FLIP_TO_TRANSPOSE.get(flip)
    return image if transpose is None else image.transpose(transpose)


def _check_readable(path: Path | str) -> None:
    """LibRaw reports a missing file as an I/O error: say what is wrong instead."""
    try:
        if Path(path).is_dir():
            raise ImageError("is a directory, not an image file", path)
        with Path(path).open("rb"):
            pass
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror or exc}", path) from None


def _check_size(width: int, height: int, max_pixels: int | None, path: Path | str | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} is {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,} (possible decompression bomb)",
            path,
        )


def _message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)
