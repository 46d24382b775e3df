"""The photo formats scened handles: one table that every part reads.

For each format: the file name suffixes (lower case), how it is decoded, and where
its keywords go.  The scanner scans exactly these suffixes, the decoder picks its
path from them, the sinks and ``scened untag`` place keywords by them, so a suffix
that can be untagged is also scanned, and every RAW format LibRaw decodes is found.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Decoder(enum.Enum):
    """How pixels are read."""

    PILLOW = "pillow"  # Pillow, with pillow-heif registered for HEIF/AVIF
    RAW = "raw"  # LibRaw (rawpy): the embedded preview, or a half-size demosaic


class Keywords(enum.Enum):
    """Where keywords are written."""

    EMBEDDED = "embedded"  # XMP and IPTC inside the file (exiv2)
    EMBEDDED_XMP = "embedded-xmp"  # XMP only: exiv2 silently drops IPTC there
    SIDECAR = "sidecar"  # an .xmp sidecar: exiv2 cannot write it, or its makers expect one


@dataclass(frozen=True)
class PhotoFormat:
    name: str
    suffixes: tuple[str, ...]
    decoder: Decoder
    keywords: Keywords


_RAW = (
    ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".erf", ".iiq", ".kdc", ".mef", ".mos",
    ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl", ".sr2", ".srf",
    ".srw", ".x3f",
)  # fmt: skip

FORMATS: tuple[PhotoFormat, ...] = (
    PhotoFormat("JPEG", (".jpg", ".jpeg", ".jpe"), Decoder.PILLOW, Keywords.EMBEDDED),
    PhotoFormat("PNG", (".png",), Decoder.PILLOW, Keywords.EMBEDDED),
    PhotoFormat("TIFF", (".tif", ".tiff"), Decoder.PILLOW, Keywords.EMBEDDED),
    PhotoFormat("WebP", (".webp",), Decoder.PILLOW, Keywords.EMBEDDED_XMP),
    PhotoFormat("HEIF/AVIF", (".heic", ".heif", ".hif", ".avif"), Decoder.PILLOW, Keywords.SIDECAR),
    PhotoFormat("DNG", (".dng",), Decoder.RAW, Keywords.EMBEDDED),
    PhotoFormat("camera RAW", _RAW, Decoder.RAW, Keywords.SIDECAR),
)

BY_SUFFIX: dict[str, PhotoFormat] = {s: f for f in FORMATS for s in f.suffixes}
#: Every suffix scened scans (and can untag).
SUFFIXES = frozenset(BY_SUFFIX)


def suffixes(*, decoder: Decoder | None = None, keywords: Keywords | None = None) -> frozenset[str]:
    """The suffixes of the formats decoded by ``decoder`` and/or tagged by ``keywords``."""
    return frozenset(
        suffix
        for suffix, fmt in BY_SUFFIX.items()
        if (decoder is None or fmt.decoder is decoder)
        and (keywords is None or fmt.keywords is keywords)
    )


def format_of(path: Path | str) -> PhotoFormat | None:
    """The format ``path`` names by its suffix (any case), or None."""
    return BY_SUFFIX.get(Path(path).suffix.lower())
