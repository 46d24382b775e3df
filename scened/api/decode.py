"""From a request body to model input: JSON shape, base64, file type, colour mode, pixels.

:func:`decode_image` takes an entry of the JSON form's ``images`` (base64),
:func:`decode_file` a ``file`` part of the multipart form (the file's bytes);
past that, both run the same checks and the same decoding.

The pixels are made by :func:`scened.imaging.load_for_model`, the function the
daemon and ``scened classify`` use, so an image gets the same tags whichever way
it reaches scened.  What is accepted (docs/api.md): JPEG and PNG (decided by the
content, never by a data URL's label) in the RGB, RGBA or CMYK colour mode.
These functions are blocking; the app runs them in a thread pool.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from scened.api.bodyparse import parse_images_body
from scened.api.errors import ApiError, ErrorCode
from scened.errors import ImageError, ImageTooLargeError, UnsupportedImageError
from scened.imaging import load_for_model, open_image

log = logging.getLogger(__name__)

#: Pillow formats accepted; MPO is how Pillow names many cameras' JPEGs.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG"})
ACCEPTED_MODES = frozenset({"RGB", "RGBA", "CMYK"})
_IMAGE_ERRORS = (ImageError, Image.DecompressionBombError)
#: How an entry reached the API, for the wording of its errors.
_BASE64, _FILE = "base64", "file"
_DATA_URL = re.compile(r"data:[^,;]*(?:;[^,;]*)*?;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class OversizeFile:
    """A multipart ``file`` larger than ``max_image_bytes``: its size only, its bytes dropped.

    Kept in its place among the files so that, as in the JSON form, the lowest
    failing entry decides the answer.
    """

    size: int


@dataclass(frozen=True)
class ImageLimits:
    """What one image may be: encoded bytes (413 above) and pixels (400 above)."""

    max_image_bytes: int
    max_pixels: int
    size: int


def parse_images(body: bytes | bytearray, max_images: int) -> list[object]:
    """The ``images`` list of a ``POST /classify`` body, or the error for its shape (docs/api.md).

    A bounded parse (:mod:`scened.api.bodyparse`): a body made of millions of lists,
    numbers or keys is refused without building them; an entry that is not a string
    ends the parse and is returned for :func:`decode_image` to report by its index.
    """
    return parse_images_body(body, max_images)


def decode_image(index: int, entry: object, limits: ImageLimits) -> np.ndarray:
    """Entry ``index`` of ``images`` as a ``(size, size, 3)`` uint8 array, or an ApiError."""
    data = decode_base64(index, entry, limits.max_image_bytes)
    return _pixels(index, data, limits, _BASE64)


def decode_file(index: int, entry: bytes | OversizeFile, limits: ImageLimits) -> np.ndarray:
    """File ``index`` of a multipart body as a ``(size, size, 3)`` uint8 array, or an ApiError.

    The same checks and errors as :func:`decode_image` after its base64 step.
    """
    if isinstance(entry, OversizeFile):
        raise _too_large(index, entry.size, limits.max_image_bytes)
    if not entry:
        raise _not_an_image(index, "the file is empty", _FILE)
    return _pixels(index, entry, limits, _FILE)


def _pixels(index: int, data: bytes, limits: ImageLimits, kind: str) -> np.ndarray:
    check_image(index, data, limits.max_pixels, kind=kind)
    try:
        return load_for_model(data, size=limits.size, max_pixels=limits.max_pixels)
    except _IMAGE_ERRORS as exc:
        raise _image_error(index, exc, kind) from None
    except Exception as exc:  # Pillow raises many types on crafted input; never a 500
        log.debug("entry %d failed to decode", index, exc_info=True)
        raise _not_an_image(index, f"cannot decode: {type(exc).__name__}", kind) from None


def decode_base64(index: int, entry: object, max_image_bytes: int) -> bytes:
    """The bytes of a plain base64 string or a ``data:...;base64,`` URL."""
    if not isinstance(entry, str):
        raise _not_an_image(index, f"a {type(entry).__name__}, not a base64 string")
    text = entry
    if text[:5].lower() == "data:":
        match = _DATA_URL.match(text)
        if match is None:
            raise _not_an_image(index, "a data URL that is not base64 (needs ';base64,')")
        text = text[match.end() :]
    if len(text) // 4 * 3 > max_image_bytes + 3:
        raise ApiError(
            413,
            ErrorCode.IMAGE_TOO_LARGE,
            f"image {index} is larger than the limit of {max_image_bytes:,} bytes",
            index,
        )
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _not_an_image(index, "not valid base64") from None
    if not data:
        raise _not_an_image(index, "empty")
    if len(data) > max_image_bytes:
        raise _too_large(index, len(data), max_image_bytes)
    return data


def check_image(index: int, data: bytes, max_pixels: int, *, kind: str = _BASE64) -> None:
    """Refuse what the API does not accept (docs/api.md), from the header alone (nothing decoded).

    ``kind`` (``"base64"`` or ``"file"``) only words the error message.
    """
    try:
        with open_image(data, max_pixels=max_pixels) as image:
            file_type, mode = image.format, image.mode
    except _IMAGE_ERRORS as exc:
        raise _image_error(index, exc, kind) from None
    except Exception as exc:  # see decode_image
        log.debug("entry %d failed to open", index, exc_info=True)
        raise _not_an_image(index, f"cannot read: {type(exc).__name__}", kind) from None
    if file_type not in ACCEPTED_FORMATS:
        raise ApiError(
            400,
            ErrorCode.UNSUPPORTED_FILE_TYPE,
            f"image {index} is {file_type or 'an unknown type'}; JPEG and PNG are accepted",
            index,
        )
    if mode not in ACCEPTED_MODES:
        raise ApiError(
            400,
            ErrorCode.UNSUPPORTED_COLOUR_MODE,
            f"image {index} has colour mode {mode}; RGB, RGBA and CMYK are accepted",
            index,
        )


def _image_error(index: int, exc: Exception, kind: str = _BASE64) -> ApiError:
    if isinstance(exc, ImageTooLargeError | Image.DecompressionBombError):
        message = exc.message if isinstance(exc, ImageTooLargeError) else str(exc)
        return ApiError(400, ErrorCode.TOO_MANY_PIXELS, f"image {index}: {message}", index)
    if isinstance(exc, UnsupportedImageError):
        return ApiError(400, ErrorCode.UNSUPPORTED_COLOUR_MODE, f"image {index}: {exc}", index)
    reason = exc.message if isinstance(exc, ImageError) else str(exc)
    return _not_an_image(index, reason, kind)


def _not_an_image(index: int, reason: str, kind: str = _BASE64) -> ApiError:
    """``not_a_base64_image``: the code for an entry that is not an image, in either form."""
    message = f"image {index} is not a base64 image: {reason}"
    if kind == _FILE:
        message = f"image {index}: {reason}"
    return ApiError(400, ErrorCode.NOT_A_BASE64_IMAGE, message, index)


def _too_large(index: int, size: int, max_image_bytes: int) -> ApiError:
    return ApiError(
        413,
        ErrorCode.IMAGE_TOO_LARGE,
        f"image {index} is {size:,} bytes, more than the limit of {max_image_bytes:,}",
        index,
    )
