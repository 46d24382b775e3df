"""The metadata worker: an exiv2 crash fails one photo, never the calling process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from scened.errors import MetadataError
from scened.metadata.client import MetadataWorker
from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter
from scened.metadata.worker import CRASH_ON_ENV


@pytest.fixture
def crashing_writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeywordWriter]:
    """A writer whose worker dies of SIGSEGV on any file named *poison*."""
    monkeypatch.setenv(CRASH_ON_ENV, "poison")
    worker = MetadataWorker(timeout=30)
    yield KeywordWriter(worker)
    worker.close()


def test_a_worker_crash_fails_that_photo_only(
    tmp_path: Path, crashing_writer: KeywordWriter, oracle: ModuleType
) -> None:
    good = oracle.make_photo(tmp_path / "good.jpg")
    poison = oracle.make_photo(tmp_path / "poison.jpg")
    original = poison.read_bytes()

    with pytest.raises(MetadataError, match="SIGSEGV") as caught:
        crashing_writer.tag_file(poison, ["Beach"], KeywordOptions(), model_id="m1")

    assert caught.value.path == poison
    assert poison.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jpg", "poison.jpg"]
    # a new worker takes over for the next photo
    assert crashing_writer.tag_file(good, ["Sky"], KeywordOptions(), model_id="m1")
    assert oracle.keyword_fields(good)["subject"] == ["Sky"]


def test_an_exiv2_error_is_a_metadata_error_naming_the_photo(
    tmp_path: Path, writer: KeywordWriter
) -> None:
    fake = tmp_path / "not-a-photo.jpg"
    fake.write_bytes(b"this is text, not a JPEG")
    with pytest.raises(MetadataError, match="exiv2 failed") as caught:
        writer.tag_file(fake, ["Beach"], KeywordOptions())
    assert caught.value.path == fake
    assert fake.read_bytes() == b"this is text, not a JPEG"


def test_a_hung_worker_is_killed_and_replaced(tmp_path: Path, oracle: ModuleType) -> None:
    worker = MetadataWorker(timeout=0.001)
    try:
        photo = oracle.make_photo(tmp_path / "slow.jpg")
        with pytest.raises(MetadataError, match="no answer"):
            # the first request also starts the interpreter: far beyond 1 ms
            worker.read(photo)
        worker.timeout = 30
        assert worker.read(photo) == {}
    finally:
        worker.close()


def test_the_worker_outlives_ctrl_c_and_systemds_stop_and_ends_with_its_pipe(
    tmp_path: Path, oracle: ModuleType
) -> None:
    """SIGINT/SIGTERM reach the whole process group; the worker must finish the photo."""
    import os
    import signal

    worker = MetadataWorker(timeout=30)
    photo = oracle.make_photo(tmp_path / "a.jpg")
    worker.read(photo)  # started
    process = worker.channels[0].process
    assert process is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(process.pid, sig)
    assert KeywordWriter(worker).tag_file(photo, ["Beach"], KeywordOptions(), model_id="m")
    assert worker.channels[0].process is process and process.poll() is None  # the same one
    assert process.stdin is not None
    process.stdin.close()  # what the parent's exit does
    assert process.wait(timeout=30) == 0
    worker.channels[0].process = None


def _resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS:")))


def test_a_worker_gives_back_the_memory_of_a_large_photo(tmp_path: Path) -> None:
    """A whole photo through the worker (a PNG is not spliced) leaves it as small as it
    was: glibc would otherwise keep the freed heap, and the worker would hold the
    peak of its largest photo for the rest of the run."""
    noise = np.random.default_rng(0).integers(0, 256, (2000, 2500, 3), dtype=np.uint8)
    photo = tmp_path / "export.png"
    Image.fromarray(noise).save(photo, compress_level=0)  # ~15 MB
    content = photo.read_bytes()
    worker = MetadataWorker(timeout=60, processes=1)
    try:
        worker.read(photo)  # started, exiv2 loaded
        process = worker.channels[0].process
        assert process is not None
        before = _resident_kib(process.pid)
        edited = worker.write_bytes(content, {"Xmp.dc.subject": ["Beach"]}, photo)
        worker.read(photo)  # answered one request at a time: the last one is done
        after = _resident_kib(process.pid)
    finally:
        worker.close()
    assert len(edited) > len(content)
    assert after - before < 8 * 1024, f"{before} kB before, {after} kB after"
