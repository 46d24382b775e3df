"""A JPEG's metadata segments, cut out and spliced back, so exiv2 never sees the pixels.

Keywords live in two JPEG segments: the XMP packet (APP1, ``http://ns.adobe.com/xap/1.0/``)
and the Photoshop block that holds IPTC (APP13, ``Photoshop 3.0``).  Rewriting a 12 MP
photo through exiv2 parses and copies every byte of it (and, for a write in place, does
so once per kind of metadata); measured here (``bench/metadata.py --compare-write``),
editing only those segments in a tiny *carrier* JPEG and splicing them back is several
times cheaper, and only a few kilobytes cross to the metadata worker process.

The carrier is a 1x1 JPEG holding the photo's own XMP and Photoshop segments, exactly as
they are; exiv2 reads and writes it as it would the photo (same code, same segments),
then the new segments replace the old ones at the same place in the photo.  Every other
byte (EXIF, ICC profile, maker notes, thumbnails, the compressed picture) is copied
untouched, which is stricter than exiv2 itself (which re-encodes EXIF when it writes).

Only plain baseline/progressive JPEG structure is handled: anything this module does not
understand (extended XMP split over several segments, a malformed marker, data after a
segment length that runs past the end) returns ``None``, and the caller falls back to
exiv2 on the whole file.
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass

from PIL import Image

from scened.types import Spliced

_SOI = b"\xff\xd8"
_SOS = 0xDA
_APP1 = 0xE1
_APP13 = 0xED
_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_EXTENDED_XMP_ID = b"http://ns.adobe.com/xmp/extension/\x00"
_PHOTOSHOP_ID = b"Photoshop 3.0\x00"
#: Markers without a length field (TEM, RSTn); SOI/EOI never occur before SOS here.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


@dataclass(frozen=True)
class Segment:
    """One marker segment: ``data[start:end]`` is the whole segment, marker included."""

    marker: int
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4 : self.end]


@dataclass(frozen=True)
class MetadataSegments:
    """Where a JPEG keeps its keywords, found by :func:`find`."""

    segments: tuple[Segment, ...]
    #: The XMP and Photoshop (IPTC) segments, in file order.
    keyword_segments: tuple[Segment, ...]
    #: Where new keyword segments go when the photo has none: after APP0/APP1 (JFIF, EXIF).
    insert_at: int


def find(data: bytes) -> MetadataSegments | None:
    """The segments before the picture data of ``data``, or None if not a plain JPEG."""
    if not data.startswith(_SOI):
        return None
    segments: list[Segment] = []
    position, size = 2, len(data)
    while True:
        if position + 4 > size or data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE:
            return None
        (length,) = struct.unpack_from(">H", data, position + 2)
        end = position + 2 + length
        if length < 2 or end > size:
            return None
        if marker == _SOS:
            break
        segments.append(Segment(marker, position, end))
        position = end
    keyword: list[Segment] = []
    for segment in segments:
        payload = data[segment.start + 4 : segment.start + 4 + len(_EXTENDED_XMP_ID)]
        if segment.marker == _APP1 and payload.startswith(_EXTENDED_XMP_ID):
            return None  # extended XMP: exiv2 on the whole file handles it
        if _is_keyword_segment(segment, payload):
            keyword.append(segment)
    insert_at = 2
    for segment in segments:
        if segment.marker not in (0xE0, _APP1) or segment in keyword:
            break
        insert_at = segment.end
    return MetadataSegments(tuple(segments), tuple(keyword), insert_at)


def _is_keyword_segment(segment: Segment, payload: bytes) -> bool:
    return (segment.marker == _APP1 and payload.startswith(_XMP_ID)) or (
        segment.marker == _APP13 and payload.startswith(_PHOTOSHOP_ID)
    )


def carrier(data: bytes, found: MetadataSegments) -> bytes:
    """A 1x1 JPEG holding the keyword segments of ``data`` (for exiv2 to edit)."""
    blank = blank_jpeg()
    kept = b"".join(data[s.start : s.end] for s in found.keyword_segments)
    return blank[:2] + kept + blank[2:]


def keyword_segments_of(edited_carrier: bytes) -> bytes | None:
    """The XMP and Photoshop segments exiv2 left in an edited carrier, in its order."""
    found = find(edited_carrier)
    if found is None:
        return None
    return b"".join(edited_carrier[s.start : s.end] for s in found.keyword_segments)


def splice(data: bytes, found: MetadataSegments, new_segments: bytes) -> Spliced:
    """``data`` with its keyword segments replaced by ``new_segments``.

    The new segments go where the first old one was (or after JFIF/EXIF when there
    was none); every other byte of the photo is kept as it was.  The result is the
    new head and where ``data``'s unchanged tail starts (after the last old keyword
    segment): the writer copies that tail from the photo itself.
    """
    old = found.keyword_segments
    at = old[0].start if old else found.insert_at
    parts: list[bytes | memoryview] = []
    view = memoryview(data)
    position = 0
    for segment in old:
        parts.append(view[position : segment.start])
        if segment is old[0]:
            parts.append(new_segments)
        position = segment.end
    if not old:
        parts += [view[:at], new_segments]
        position = at
    return Spliced(b"".join(parts), position)


@functools.cache
def blank_jpeg() -> bytes:
    """A valid 1x1 JPEG: the carrier of metadata that exiv2 edits in memory."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "JPEG")
    return buffer.getvalue()
