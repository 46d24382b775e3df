"""Helpers for metadata tests: real image files made here, exiftool as the oracle.

A module of the tests package: the metadata, plugin, CLI and interop tests import it
(``from ..metadata import photo_oracle``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms

#: Suffix -> Pillow format for the formats scened embeds keywords into.
EMBEDDED_FORMATS = {".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".dng": "TIFF", ".webp": "WEBP"}
#: TIFF tags that legitimately change: XMP (700), IPTC (33723) and where strips sit.
LAYOUT_AND_KEYWORD_TAGS = (0x02BC, 0x83BB, 0x0111, 0x0117, 0x0144, 0x0145)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_photo(path: Path, pillow_format: str | None = None) -> Path:
    """A small real photo with a gradient, EXIF (Make, Model) and an ICC profile."""
    pillow_format = pillow_format or EMBEDDED_FORMATS[path.suffix.lower()]
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x + y) % 256) for y in range(48) for x in range(64)])
    exif = Image.Exif()
    exif[0x010F] = "ScenedCam"  # Make
    exif[0x0110] = "Model Ü 1"  # Model
    options: dict[str, Any] = {"icc_profile": SRGB_ICC}
    if pillow_format == "TIFF":
        options["tiffinfo"] = exif
    else:
        options["exif"] = exif.tobytes()
    if pillow_format == "WEBP":
        options["lossless"] = True
    image.save(path, pillow_format, **options)
    return path


def exiftool(path: Path) -> dict[str, Any]:
    """Everything exiftool reads from ``path``, keys like ``XMP-dc:Subject``."""
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", "-n", str(path)], capture_output=True, check=True
    )
    info: dict[str, Any] = json.loads(out.stdout)[0]
    return info


def values(info: dict[str, Any], tag: str) -> list[str]:
    """One tag of :func:`exiftool`'s answer as a list (exiftool gives lone values bare)."""
    value = info.get(tag)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def keyword_fields(path: Path) -> dict[str, list[str]]:
    """The four keyword fields as exiftool reads them."""
    info = exiftool(path)
    return {
        "subject": values(info, "XMP-dc:Subject"),
        "hierarchical": values(info, "XMP-lr:HierarchicalSubject"),
        "tagslist": values(info, "XMP-digiKam:TagsList"),
        "iptc": values(info, "IPTC:Keywords"),
    }


def raw_xmp(path: Path) -> str:
    """The XMP packet exactly as stored (to check rdf:Bag and friends)."""
    out = subprocess.run(["exiftool", "-b", "-XMP", str(path)], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def pixels_exif_icc(path: Path) -> tuple[str, tuple[int, int], bytes, dict[int, Any], Any]:
    """Decoded pixels, EXIF and ICC profile: what must survive a keyword write."""
    with warnings.catch_warnings(), Image.open(path) as image:
        # Pillow warns that TIFF's IPTC tag holds several values; it always does
        warnings.filterwarnings("ignore", "Metadata Warning", UserWarning)
        image.load()
        exif = dict(image.getexif())
        for where_keywords_or_layout_go in LAYOUT_AND_KEYWORD_TAGS:
            exif.pop(where_keywords_or_layout_go, None)
        return image.mode, image.size, image.tobytes(), exif, image.info.get("icc_profile")


def add_user_keywords(path: Path, keywords: list[str], hierarchical: list[str]) -> None:
    """Keywords as a user's tool would write them (exiftool, UTF-8 IPTC)."""
    args = ["exiftool", "-q", "-overwrite_original", "-codedcharacterset=utf8"]
    for keyword in keywords:
        args += [f"-XMP-dc:Subject+={keyword}"]
        if path.suffix.lower() not in (".webp", ".xmp"):
            args += [f"-IPTC:Keywords+={keyword}"]
    args += [f"-XMP-lr:HierarchicalSubject+={value}" for value in hierarchical]
    subprocess.run([*args, str(path)], check=True)


def exiftool_available() -> bool:
    return shutil.which("exiftool") is not None
