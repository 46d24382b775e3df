"""The kernel copy of the bytes a new photo keeps (:mod:`scened.metadata.filecopy`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from scened.metadata.filecopy import copy_range, write_content
from scened.types import Spliced


def test_a_range_is_appended_after_what_the_destination_holds(tmp_path: Path) -> None:
    (tmp_path / "source").write_bytes(b"0123456789")
    source = os.open(tmp_path / "source", os.O_RDONLY)
    with (tmp_path / "new").open("wb", buffering=0) as destination:
        destination.write(b"head:")
        copied = copy_range(source, destination.fileno(), 4, 3)
    os.close(source)
    assert copied == 3
    assert (tmp_path / "new").read_bytes() == b"head:456"


def test_a_source_shorter_than_expected_copies_what_it_has(tmp_path: Path) -> None:
    """A photo truncated since it was read: the copy says how much it got."""
    (tmp_path / "source").write_bytes(b"0123456789")
    source = os.open(tmp_path / "source", os.O_RDONLY)
    with (tmp_path / "new").open("wb", buffering=0) as destination:
        copied = copy_range(source, destination.fileno(), 4, 100)
    os.close(source)
    assert copied == 6
    assert (tmp_path / "new").read_bytes() == b"456789"


def test_what_the_kernel_could_not_copy_is_written_from_what_was_read(tmp_path: Path) -> None:
    """The photo shrank after it was read: the new file is still the whole splice of
    the bytes read (and its digest theirs); the swap's check then refuses the photo."""
    read = b"HEAD" + bytes(range(200))
    (tmp_path / "photo").write_bytes(read[:100])  # cut short meanwhile
    spliced = Spliced(b"NEWHEAD", 4)
    source = os.open(tmp_path / "photo", os.O_RDONLY)
    with (tmp_path / "new").open("wb", buffering=0) as destination:
        digest = write_content(destination, spliced, read, source)
    os.close(source)
    assert (tmp_path / "new").read_bytes() == spliced.joined(read)
    assert digest == hashlib.sha256(spliced.joined(read)).hexdigest()
