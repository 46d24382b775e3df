"""One format table: what is scanned, decoded as RAW, and where keywords go all agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.daemon.scan import Scanner, is_supported
from scened.formats import BY_SUFFIX, FORMATS, SUFFIXES, Decoder, Keywords, format_of
from scened.metadata.formats import Placement, placement_for
from scened.raw import is_raw

PLACEMENT = {
    Keywords.EMBEDDED: Placement.EMBEDDED,
    Keywords.EMBEDDED_XMP: Placement.EMBEDDED_XMP,
    Keywords.SIDECAR: Placement.SIDECAR,
}


def test_every_suffix_belongs_to_one_format() -> None:
    listed = [s for f in FORMATS for s in f.suffixes]
    assert len(listed) == len(set(listed)) == len(SUFFIXES)
    assert all(s.startswith(".") and s == s.lower() for s in listed)


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_scanner_decoder_and_sinks_agree_on_each_suffix(tmp_path: Path, suffix: str) -> None:
    photo = tmp_path / f"IMG_0001{suffix.upper()}"
    photo.write_bytes(b"x")
    fmt = BY_SUFFIX[suffix]
    assert format_of(photo) is fmt
    assert is_supported(photo.name)
    assert [entry.path for entry in Scanner(tmp_path, (), ())] == [photo]
    assert is_raw(photo) == (fmt.decoder is Decoder.RAW)
    assert placement_for(photo) is PLACEMENT[fmt.keywords]


def test_what_used_to_fall_between_the_lists() -> None:
    # untaggable-but-never-scanned and LibRaw formats the scanner skipped
    for name in ("a.jpe", "b.hif", "c.nrw", "d.rwl", "e.3fr", "f.x3f", "g.crw"):
        assert is_supported(name), name
    assert not is_supported("notes.txt") and not is_supported("photo.xmp")
