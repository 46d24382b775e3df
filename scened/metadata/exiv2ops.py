"""The pyexiv2 calls, run only inside the metadata worker process.

exiv2 is not thread-safe and has crashed on malformed files, so nothing in the
main process imports this module (see :mod:`scened.metadata.worker`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyexiv2

from scened.metadata.fields import (
    BAG_PROPERTIES,
    HIERARCHICAL,
    IPTC_CHARSET,
    IPTC_LEGACY,
    SCENED_NS,
    SCENED_PREFIX,
    SUBJECT,
    TAGS_LIST,
    Fields,
)
from scened.metadata.jpeg_segments import blank_jpeg

_READ_XMP_KEYS = (SUBJECT, HIERARCHICAL, TAGS_LIST)
_BAG_PATTERNS = [
    re.compile(rf"(<{re.escape(prop)}>\s*<rdf:)Seq(>.*?</rdf:)Seq(>\s*</{re.escape(prop)}>)", re.S)
    for prop in BAG_PROPERTIES
]


def setup() -> None:
    """Register scened's namespace and keep exiv2's warnings out of the way."""
    pyexiv2.registerNs(SCENED_NS, SCENED_PREFIX)
    pyexiv2.set_log_level(3)  # errors logged by exiv2 raise; its warnings are not ours


def read_fields(path: str) -> dict[str, Any]:
    """The keyword fields, scened's record and every IPTC dataset of one file."""
    with _opened(path) as image:
        return _fields(image)


def read_fields_of(content: bytes) -> dict[str, Any]:
    """As :func:`read_fields`, of a file's content held in memory."""
    image = pyexiv2.ImageData(content)
    try:
        return _fields(image)
    finally:
        image.close()


def _fields(image: Any) -> dict[str, Any]:
    xmp = image.read_xmp()
    iptc = _read_iptc(image) if _supports_iptc(image) else {}
    found: dict[str, Any] = {
        key: value
        for key, value in xmp.items()
        if key in _READ_XMP_KEYS or key.startswith(f"Xmp.{SCENED_PREFIX}.")
    }
    found.update(iptc)
    return found


def write_fields(path: str, fields: Fields) -> int:
    """Set (or delete, for ``None``) each key of ``fields`` in the file at ``path``.

    XMP arrays are then rewritten as rdf:Bag where the XMP specification says so:
    pyexiv2 always writes lists as rdf:Seq.  Returns how many XMP properties the
    file holds afterwards (an empty sidecar is left for the caller to delete).
    """
    with _opened(path) as image:
        left = _write(image, fields)
        if _is_sidecar(path) and left:
            Path(path).write_text(image.read_raw_xmp().rstrip() + "\n", encoding="utf-8")
    return left


def write_fields_into(content: bytes, fields: Fields) -> bytes:
    """As :func:`write_fields`, on a file's content held in memory; the new content.

    Each ``modify_*`` rewrites the buffer in memory, not a file on disk.
    """
    image = pyexiv2.ImageData(content)
    try:
        _write(image, fields)
        edited: bytes = image.get_bytes()
        return edited
    finally:
        image.close()


def _write(image: Any, fields: Fields) -> int:
    iptc = {key: value for key, value in fields.items() if key.startswith("Iptc.")}
    xmp = {key: value for key, value in fields.items() if key.startswith("Xmp.")}
    if iptc:
        image.modify_iptc(iptc)
    if xmp:
        _modify_xmp(image, xmp)
    return len(image.read_xmp())


def _modify_xmp(image: Any, xmp: Fields) -> None:
    """Write the photo's new XMP packet with one rewrite of the file.

    Every pyexiv2 ``modify_*`` call rewrites the whole file, so the packet is
    edited in a blank in-memory carrier (where a rewrite costs nothing), its arrays
    are turned into rdf:Bag there, and the result is written into the photo once.
    An empty packet also drops a WebP's old XMP chunk, which exiv2 keeps otherwise.
    """
    image.modify_raw_xmp(_edited_packet(image.read_raw_xmp(), xmp))


def _edited_packet(packet: str, xmp: Fields) -> str:
    carrier = pyexiv2.ImageData(blank_jpeg())
    try:
        if packet.strip():
            carrier.modify_raw_xmp(packet)
        carrier.modify_xmp(xmp)
        if not carrier.read_xmp():
            return ""
        return bags_not_seqs(carrier.read_raw_xmp())
    finally:
        carrier.close()


@contextlib.contextmanager
def _opened(path: str) -> Iterator[Any]:
    """A pyexiv2 image for ``path``; for an XMP sidecar, its packet in a blank JPEG.

    exiv2 converts IPTC and EXIF back into XMP whenever it writes a sidecar, which
    would bring back keywords just removed.  Inside a JPEG it does no such thing,
    so sidecars are edited there and their packet is written out as text.
    """
    if not _is_sidecar(path):
        with pyexiv2.Image(path) as image:
            yield image
        return
    carrier = pyexiv2.ImageData(blank_jpeg())
    try:
        packet = Path(path).read_text(encoding="utf-8")
        if packet.strip():
            carrier.modify_raw_xmp(packet)
        yield carrier
    finally:
        carrier.close()


def _is_sidecar(path: str) -> bool:
    return path.lower().endswith(".xmp")


def bags_not_seqs(packet: str) -> str:
    """``packet`` with the keyword arrays as rdf:Bag instead of rdf:Seq."""
    for pattern in _BAG_PATTERNS:
        packet = pattern.sub(r"\1Bag\2Bag\3", packet)
    return packet


def _read_iptc(image: Any) -> dict[str, Any]:
    """IPTC datasets; legacy (Latin-1, say) IPTC without a declared charset is marked."""
    try:
        iptc: dict[str, Any] = image.read_iptc()
    except UnicodeDecodeError:
        iptc = image.read_iptc(encoding="latin-1")
        iptc.setdefault(IPTC_CHARSET, IPTC_LEGACY)
    return iptc


def _supports_iptc(image: Any) -> bool:
    return str(image.get_access_mode().get("iptc") or "").startswith("read")
