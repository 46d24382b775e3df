"""The pyexiv2 calls, run only inside the metadata worker process.

exiv2 is not thread-safe and has crashed on malformed files, so nothing in the
main process imports this module (see :mod:`scened.metadata.worker`).
"""

from __future__ import annotations

import re
from typing import Any

import pyexiv2

from scened.metadata.fields import (
    BAG_PROPERTIES,
    HIERARCHICAL,
    SCENED_NS,
    SCENED_PREFIX,
    SUBJECT,
    TAGS_LIST,
    Fields,
)

_READ_XMP_KEYS = (SUBJECT, HIERARCHICAL, TAGS_LIST)
_BAG_PATTERNS = [
    re.compile(rf"(<{re.escape(prop)}>\s*<rdf:)Seq(>.*?</rdf:)Seq(>\s*</{re.escape(prop)}>)", re.S)
    for prop in BAG_PROPERTIES
]


def setup() -> None:
    """Register scened's namespace and keep exiv2's warnings out of the way."""
    pyexiv2.registerNs(SCENED_NS, SCENED_PREFIX)
    pyexiv2.set_log_level(4)  # errors still raise; warnings about odd files are not ours


def read_fields(path: str) -> dict[str, Any]:
    """The keyword fields, scened's record and every IPTC dataset of one file."""
    with pyexiv2.Image(path) as image:
        xmp = image.read_xmp()
        iptc = image.read_iptc() if _supports_iptc(image) else {}
    found: dict[str, Any] = {
        key: value
        for key, value in xmp.items()
        if key in _READ_XMP_KEYS or key.startswith(f"Xmp.{SCENED_PREFIX}.")
    }
    found.update(iptc)
    return found


def write_fields(path: str, fields: Fields) -> None:
    """Set (or delete, for ``None``) each key of ``fields`` in the file at ``path``.

    XMP arrays are then rewritten as rdf:Bag where the XMP specification says so:
    pyexiv2 always writes lists as rdf:Seq.
    """
    iptc = {key: value for key, value in fields.items() if key.startswith("Iptc.")}
    xmp = {key: value for key, value in fields.items() if key.startswith("Xmp.")}
    with pyexiv2.Image(path) as image:
        if iptc:
            image.modify_iptc(iptc)
        if xmp:
            image.modify_xmp(xmp)
            if not image.read_xmp():
                # exiv2 keeps a WebP's old XMP chunk when the last key goes; this drops it
                image.modify_raw_xmp("")
                return
            packet = image.read_raw_xmp()
            fixed = bags_not_seqs(packet)
            if fixed != packet:
                image.modify_raw_xmp(fixed)


def bags_not_seqs(packet: str) -> str:
    """``packet`` with the keyword arrays as rdf:Bag instead of rdf:Seq."""
    for pattern in _BAG_PATTERNS:
        packet = pattern.sub(r"\1Bag\2Bag\3", packet)
    return packet


def _supports_iptc(image: Any) -> bool:
    return str(image.get_access_mode().get("iptc") or "").startswith("read")
