"""Decoding photos into the model's input: EXIF orientation, any colour mode, centre crop.

The crop is the aspect-preserving centre crop that ``keras.preprocessing.image.
smart_resize`` makes (the largest centred box of the target's aspect ratio,
resized bilinearly).  JPEGs are decoded at a reduced DCT scale first (Pillow's
``draft``) as long as the reduced image keeps at least ``DRAFT_OVERSAMPLE`` times
the target size on its shorter side; measured on real photos this changes the
crop by about one grey level on average and makes decoding 5-7x faster.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from scened.errors import ImageError, ImageTooLargeError, UnsupportedImageError
from scened.library_noise import route_libtiff_messages
from scened.raw import NotRawError, is_raw, open_raw_preview

#: Side of the square model input.
INPUT_SIZE = 160
#: Reduced-scale JPEG decoding keeps at least this many times the target size.
DRAFT_OVERSAMPLE = 2
#: Images with more pixels than this are refused before decoding (decompression bombs).
DEFAULT_MAX_PIXELS = 250_000_000
#: Changed whenever this module's way from a file to the model's pixels changes (the
#: draft rule, the crop, the resampling): part of :func:`decoder_id`.
PIXELS_VERSION = 1

Source = Path | str | bytes | BinaryIO
_T = TypeVar("_T")


@functools.cache
def register_optional_decoders() -> None:
    """HEIC/HEIF/AVIF decoding through pillow-heif (registered on first use, not at import);
    libtiff's messages to the debug log (:mod:`scened.library_noise`)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    route_libtiff_messages()


def open_image(source: Source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image lazily, refusing non-images and oversized images before decoding."""
    register_optional_decoders()
    path = source if isinstance(source, Path | str) else None
    stream: Path | str | BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        image = Image.open(stream)
    except UnidentifiedImageError:
        kind = _format_by_signature(stream)
        if kind is not None:
            message = f"damaged {kind} (its header or first chunks cannot be read)"
            raise ImageError(message, path) from None
        raise ImageError("not an image file (the content matches no known format)", path) from None
    except DAMAGED as exc:
        raise ImageError(f"damaged image: {exc or type(exc).__name__}", path) from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc), path) from None
    except IsADirectoryError:
        raise ImageError("is a directory, not an image file", path) from None
    except OSError as exc:
        if exc.errno is None:  # raised by a decoder, not by the file system
            raise ImageError(f"cannot decode (truncated or corrupt?): {exc}", path) from None
        raise ImageError(f"cannot read: {exc.strerror or exc}", path) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageTooLargeError(
            f"{width}x{height} is {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,} (possible decompression bomb)",
            path,
        )
    return image


#: What Pillow's decoders raise on damaged data besides OSError (broken PNG chunks,
#: truncated headers): reported as one line about the photo, never as a traceback.
DAMAGED = (SyntaxError, EOFError, struct.error, zlib.error, IndexError, KeyError, TypeError)

#: File signatures, to say "damaged JPEG" rather than "not an image" when Pillow gives up.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"), (b"GIF8", "GIF"), (b"BM", "BMP"),
)  # fmt: skip


def _format_by_signature(stream: Path | str | BinaryIO) -> str | None:
    try:
        if isinstance(stream, Path | str):
            with Path(stream).open("rb") as handle:
                head = handle.read(16)
        else:
            stream.seek(0)
            head = stream.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def load_for_model(
    source: Source,
    *,
    size: int = INPUT_SIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    use_draft: bool = True,
    name: Path | str | None = None,
) -> np.ndarray:
    """Decode ``source`` into a ``(size, size, 3)`` uint8 RGB array ready for the model
    (``name``: the file's name when ``source`` is its bytes, see :func:`decode_rgb`).

    The crop is taken from the decoded image itself before it is closed: no copy of
    the whole decoded photo is made (9 MB for a 2000x1500 PNG)."""
    return _decode(source, size, max_pixels, use_draft, name,
                   lambda image: center_crop_resize(image, size))  # fmt: skip


def decode_rgb(
    source: Source,
    *,
    size: int = INPUT_SIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    use_draft: bool = True,
    name: Path | str | None = None,
) -> Image.Image:
    """The upright 8-bit RGB photo, decoded at the smallest scale that still serves ``size``.

    This is the one decoder behind tagging and training (``scened-train`` computes
    its features through it), so a model is trained on exactly the pixels it sees.
    A camera RAW file is recognised by its name's suffix: ``source``'s when it is a
    path, else ``name`` (the file's path or name when ``source`` is its bytes); one
    that LibRaw does not recognise is tried as an ordinary image (a TIFF named .NEF).
    """
    return _decode(source, size, max_pixels, use_draft, name, _detached)


def _detached(image: Image.Image) -> Image.Image:
    """``image``, or a copy of it while it is still the opened file's (closing the file
    would close it): a converted image or a RAW preview is already its own."""
    return image.copy() if isinstance(image, ImageFile.ImageFile) else image


def _decode(
    source: Source,
    size: int,
    max_pixels: int,
    use_draft: bool,
    name: Path | str | None,
    finish: Callable[[Image.Image], _T],
) -> _T:
    """:func:`decode_rgb`'s decoding, ``finish`` applied to the upright RGB image while
    the decoded file is still open."""
    path = source if isinstance(source, Path | str) else None
    named = path if path is not None else name
    if named is not None and is_raw(named):  # camera RAW: LibRaw's preview, upright, in memory
        if not isinstance(source, Path | str | bytes):  # a stream: LibRaw wants bytes
            source = source.read()
        try:
            return finish(to_rgb(open_raw_preview(source, max_pixels=max_pixels, name=named)))
        except NotRawError as not_raw:
            try:
                return _decode_ordinary(source, size, max_pixels, use_draft, path, finish)
            except ImageError:
                raise not_raw from None
    return _decode_ordinary(source, size, max_pixels, use_draft, path, finish)


def _decode_ordinary(
    source: Source,
    size: int,
    max_pixels: int,
    use_draft: bool,
    path: Path | str | None,
    finish: Callable[[Image.Image], _T],
) -> _T:
    """A photo Pillow (or pillow-heif) decodes, upright and in 8-bit RGB, ``finish``ed."""
    with open_image(source, max_pixels=max_pixels) as image:
        try:
            if use_draft and image.format == "JPEG":
                _draft(image, size)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return finish(to_rgb(image))
        except (ImageError, ValueError) as exc:
            if isinstance(exc, ImageError):
                raise
            raise ImageError(f"cannot decode: {exc}", path) from None
        except OSError as exc:
            raise ImageError(f"cannot decode (truncated or corrupt?): {exc}", path) from None
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(str(exc), path) from None
        except DAMAGED as exc:
            kind = image.format or "image"
            raise ImageError(f"damaged {kind}: {exc or type(exc).__name__}", path) from None


def _draft(image: Image.Image, size: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale that keeps enough pixels."""
    width, height = image.size
    short = min(width, height)
    wanted_short = size * DRAFT_OVERSAMPLE
    if short <= wanted_short:
        return
    scale = wanted_short / short
    mode = "RGB" if image.mode in ("RGB", "YCbCr") else image.mode
    image.draft(mode, (max(1, round(width * scale)), max(1, round(height * scale))))


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_depth_to_rgb(image)
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:
        raise UnsupportedImageError(f"unsupported colour mode {mode}") from None


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale: scale the full range to 8 bits instead of clipping."""
    pixels = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        scaled = pixels / 257.0
    else:
        low, high = float(pixels.min()), float(pixels.max())
        scaled = np.zeros_like(pixels) if high <= low else (pixels - low) * 255.0 / (high - low)
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def center_box(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int, int, int]:
    """The largest centred box with the target's aspect ratio (as keras smart_resize computes)."""
    crop_h = min(height, int(width * target_h / target_w))
    crop_w = min(width, int(height * target_w / target_h))
    top = (height - crop_h) // 2
    left = (width - crop_w) // 2
    return left, top, left + crop_w, top + crop_h


def center_crop_resize(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """Aspect-preserving centre crop to ``size``x``size``, bilinear, as a uint8 array."""
    box = center_box(image.width, image.height, size, size)
    resized = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(resized, dtype=np.uint8)


def pixel_digest(pixels: np.ndarray) -> str:
    """A digest of the model's input image (shape and bytes): what recognises a photo
    whose pixels were already tagged (:mod:`scened.daemon.recognise`)."""
    digest = hashlib.sha256(repr(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()[:32]


@functools.cache
def decoder_id() -> str:
    """The decoders behind :func:`load_for_model`, with their versions.

    Two machines with the same id decode a file into the same pixels, hence the same
    :func:`pixel_digest`: a server that decodes for a NAS (``[model] remote_decode``)
    must have the NAS's id, or keyword-only edits would no longer be recognised.
    """
    from importlib.metadata import version

    import pillow_heif
    import rawpy
    from PIL import features

    libraw = ".".join(str(part) for part in rawpy.libraw_version)
    return (
        f"scened-pixels {PIXELS_VERSION}; Pillow {version('pillow')} (libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}, libtiff {features.version('libtiff')}, "
        f"zlib {features.version('zlib')}, libwebp {features.version('webp')}); "
        f"pillow-heif {version('pillow-heif')} (libheif {pillow_heif.libheif_version()}); "
        f"rawpy {version('rawpy')} (LibRaw {libraw})"
    )
