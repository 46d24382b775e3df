"""Keywords written from the bytes already read (one read a photo), JPEG segments spliced.

``KeywordWriter.tag_content`` must leave exactly what ``tag_file`` leaves (exiftool
and exiv2 as the oracles), keep every byte of a JPEG outside its XMP and IPTC segments,
and refuse a photo that changed since it was read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from scened.errors import MetadataError, PhotoBusyError
from scened.metadata import jpeg_segments
from scened.metadata.client import MetadataWorker
from scened.metadata.fields import KeywordOptions, Provenance
from scened.metadata.tagger import KeywordWriter
from scened.metadata.worker import CRASH_ON_ENV
from scened.types import Replaced

SIGNED = Provenance("m1")


def signature(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def tag_content(writer: KeywordWriter, photo: Path, tags: list[str]) -> object:
    return writer.tag_content(photo, photo.read_bytes(), tags, KeywordOptions(),
                              expect=signature(photo), provenance=SIGNED)  # fmt: skip


def outside_keyword_segments(data: bytes) -> list[bytes]:
    """Every segment of a JPEG but XMP and IPTC, and the picture data after them."""
    found = jpeg_segments.find(data)
    assert found is not None
    kept = [data[s.start : s.end] for s in found.segments if s not in found.keyword_segments]
    return [*kept, data[found.segments[-1].end :]]


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_the_same_keywords_as_a_file_write_and_nothing_else_changed(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, suffix: str
) -> None:
    by_content = oracle.make_photo(tmp_path / f"content{suffix}")
    oracle.add_user_keywords(by_content, ["Urlaub"], ["Reisen|Urlaub"])
    by_file = Path(shutil.copy(by_content, tmp_path / f"file{suffix}"))
    before = oracle.pixels_exif_icc(by_content)

    replaced = tag_content(writer, by_content, ["Beach", "Sky"])
    writer.tag_file(by_file, ["Beach", "Sky"], KeywordOptions(), provenance=SIGNED)

    assert oracle.keyword_fields(by_content) == oracle.keyword_fields(by_file)
    assert oracle.keyword_fields(by_content)["subject"] == ["Urlaub", "Beach", "Sky"]
    assert oracle.pixels_exif_icc(by_content) == before
    assert writer.read(by_content) == writer.read(by_file)  # scened's record too
    digest = hashlib.sha256(by_content.read_bytes()).hexdigest()
    assert replaced == Replaced(signature(by_content), digest)  # known without a re-read
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([by_content.name, by_file.name])


def test_a_jpeg_keeps_every_byte_outside_its_keyword_segments(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "camera.jpg")
    original = photo.read_bytes()
    assert jpeg_segments.find(original).keyword_segments == ()  # type: ignore[union-attr]

    tag_content(writer, photo, ["Beach"])  # segments inserted after JFIF and EXIF
    first = photo.read_bytes()
    tag_content(writer, photo, ["Forest", "Sky"])  # segments replaced where they are
    second = photo.read_bytes()

    assert outside_keyword_segments(first) == outside_keyword_segments(original)
    assert outside_keyword_segments(second) == outside_keyword_segments(original)
    assert oracle.keyword_fields(photo)["iptc"] == ["Forest", "Sky"]
    check = subprocess.run(["exiv2", "-pa", str(photo)], capture_output=True, text=True)
    assert check.returncode == 0 and "Xmp.dc.subject" in check.stdout, check.stderr


def test_extended_xmp_goes_to_exiv2_whole_and_is_kept(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    """A packet over 64 KB is split into extended XMP segments, which this module does
    not splice: the photo goes whole to exiv2, as it did before."""
    photo = oracle.make_photo(tmp_path / "long.jpg")
    description = "word " * 16000
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-XMP-dc:Description={description}",
                    str(photo)], check=True)  # fmt: skip
    assert jpeg_segments.find(photo.read_bytes()) is None  # extended: not spliced

    tag_content(writer, photo, ["Beach"])

    assert oracle.keyword_fields(photo)["subject"] == ["Beach"]
    assert oracle.exiftool(photo)["XMP-dc:Description"].strip() == description.strip()


def test_a_photo_changed_since_it_was_read_is_left_alone(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    content, read_at = photo.read_bytes(), signature(photo)
    oracle.add_user_keywords(photo, ["Theirs"], [])  # saved by another program meanwhile
    theirs = photo.read_bytes()

    with pytest.raises(PhotoBusyError, match="changed by something else since it was read"):
        writer.tag_content(photo, content, ["Beach"], KeywordOptions(), expect=read_at,
                           provenance=SIGNED)  # fmt: skip

    assert photo.read_bytes() == theirs


def test_a_worker_crash_on_the_segments_fails_that_photo_only(
    tmp_path: Path, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_ON_ENV, "poison")
    worker = MetadataWorker(timeout=30, processes=2)
    writer = KeywordWriter(worker)
    try:
        poison = oracle.make_photo(tmp_path / "poison.jpg")
        good = oracle.make_photo(tmp_path / "good.jpg")
        original = poison.read_bytes()
        with pytest.raises(MetadataError, match="SIGSEGV") as caught:
            tag_content(writer, poison, ["Beach"])
        assert caught.value.path == poison and poison.read_bytes() == original
        tag_content(writer, good, ["Sky"])
        assert oracle.keyword_fields(good)["subject"] == ["Sky"]
    finally:
        worker.close()


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 10,
     b"\xff\xd8\xff\xd0"],
    ids=["empty", "png", "cut-short-length", "length-past-the-end", "restart-marker"],
)  # fmt: skip
def test_what_is_not_a_plain_jpeg_is_not_spliced(data: bytes) -> None:
    assert jpeg_segments.find(data) is None


def test_processes_of_the_pool_serve_threads_at_once(
    tmp_path: Path, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests in flight at once run on two processes (exiv2 is not thread-safe):
    the first two requests wait for each other inside the pool (a barrier, not a sleep),
    which only two processes can serve at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from scened.metadata import client

    together = threading.Barrier(2, timeout=30)
    real_request = client._Channel.request
    first_two = [0]

    def meet_then_request(channel: client._Channel, *args: Any) -> Any:
        with lock:
            first_two[0] += 1
            waits = first_two[0] <= 2
        if waits:
            together.wait()  # broken (an error) if the pool served one request at a time
        return real_request(channel, *args)

    lock = threading.Lock()
    monkeypatch.setattr(client._Channel, "request", meet_then_request)
    worker = MetadataWorker(timeout=30, processes=2)
    writer = KeywordWriter(worker)
    photos = [oracle.make_photo(tmp_path / f"p{i}.jpg") for i in range(8)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda p: tag_content(writer, p, ["Beach"]), photos))
        pids = {channel.process.pid for channel in worker.channels if channel.process}
        assert len(pids) == 2 and os.getpid() not in pids
        assert all(oracle.keyword_fields(p)["subject"] == ["Beach"] for p in photos)
    finally:
        worker.close()


def _real_jpeg(folder: Path, real_photos: list[Path]) -> Path:
    """A camera-size JPEG (1600x1200, EXIF) made from a real photo: its picture data
    is most of its bytes, as in a camera's."""
    photo = folder / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F] = "ScenedCam"  # Make
    with Image.open(real_photos[0]) as real:
        real.convert("RGB").resize((1600, 1200)).save(photo, "JPEG", quality=92,
                                                      exif=exif.tobytes())  # fmt: skip
    return photo


def _tail_from(original: bytes) -> int:
    """Where a JPEG's unchanged tail starts once its keyword segments are replaced."""
    found = jpeg_segments.find(original)
    assert found is not None
    old = found.keyword_segments
    return old[-1].end if old else found.insert_at


@pytest.mark.parametrize("keywords_before", [False, True], ids=["inserted", "replaced"])
def test_the_picture_of_a_spliced_jpeg_is_copied_by_the_kernel_from_the_photo(
    tmp_path: Path,
    writer: KeywordWriter,
    oracle: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    real_photos: list[Path],
    keywords_before: bool,
) -> None:
    """The unchanged tail (the picture: most of a JPEG's bytes) goes from the photo to
    the new file by ``copy_file_range``, not through memory; the file and its digest
    are still exactly the splice of what was read."""
    photo = _real_jpeg(tmp_path, real_photos)
    if keywords_before:
        oracle.add_user_keywords(photo, ["Urlaub"], [])
    original = photo.read_bytes()
    tail_from = _tail_from(original)
    copied: list[int] = []
    real_copy_file_range = os.copy_file_range

    def recording(source: int, destination: int, count: int, *offsets: Any) -> int:
        copied.append(real_copy_file_range(source, destination, count, *offsets))
        return copied[-1]

    monkeypatch.setattr(os, "copy_file_range", recording)
    replaced = tag_content(writer, photo, ["Beach"])

    new = photo.read_bytes()
    assert sum(copied) == len(original) - tail_from > 0.9 * len(original)
    assert new.endswith(original[tail_from:])
    assert outside_keyword_segments(new) == outside_keyword_segments(original)
    assert replaced == Replaced(signature(photo), hashlib.sha256(new).hexdigest())
    assert oracle.keyword_fields(photo)["subject"] == ["Urlaub", "Beach"][1 - keywords_before :]


@pytest.mark.parametrize(
    "unsupported",
    [errno.EXDEV, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL],
    ids=["EXDEV", "EOPNOTSUPP", "ENOSYS", "EINVAL"],
)
def test_where_the_file_system_cannot_copy_a_range_sendfile_copies_the_picture(
    tmp_path: Path,
    writer: KeywordWriter,
    oracle: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    real_photos: list[Path],
    unsupported: int,
) -> None:
    photo = _real_jpeg(tmp_path, real_photos)
    original = photo.read_bytes()
    sent: list[int] = []
    real_sendfile = os.sendfile

    def refused(*args: Any) -> int:
        raise OSError(unsupported, os.strerror(unsupported))

    def recording(destination: int, source: int, offset: int | None, count: int) -> int:
        sent.append(real_sendfile(destination, source, offset, count))
        return sent[-1]

    monkeypatch.setattr(os, "copy_file_range", refused)
    monkeypatch.setattr(os, "sendfile", recording)
    replaced = tag_content(writer, photo, ["Beach"])

    new = photo.read_bytes()
    assert sum(sent) == len(original) - _tail_from(original)
    assert outside_keyword_segments(new) == outside_keyword_segments(original)
    assert replaced == Replaced(signature(photo), hashlib.sha256(new).hexdigest())
    assert oracle.keyword_fields(photo)["subject"] == ["Beach"]


def test_a_disk_that_fills_during_the_kernel_copy_leaves_the_photo_as_it_was(
    tmp_path: Path, writer: KeywordWriter, real_photos: list[Path]
) -> None:
    """A real limit, not a patched call: the file size limit (what a full quota does)
    makes ``copy_file_range`` fail half-way through the picture."""
    photo = _real_jpeg(tmp_path, real_photos)
    original = photo.read_bytes()
    content, read_at = photo.read_bytes(), signature(photo)
    writer.read(photo)  # the metadata worker runs already, outside the limit
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(original) // 2, limits[1]))
    try:
        with pytest.raises(MetadataError, match="File too large") as caught:
            writer.tag_content(photo, content, ["Beach"], KeywordOptions(), expect=read_at,
                               provenance=SIGNED)  # fmt: skip
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert caught.value.path == photo
    assert photo.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.jpg"]
