"""Writes that fail for lack of space, and a metadata library that crashes.

Disk full is simulated with ``RLIMIT_FSIZE`` (set, with SIGXFSZ ignored, in the
``scened`` subprocess, which its metadata worker inherits): a write past the limit
fails with EFBIG exactly where a full disk fails with ENOSPC, in the middle of the
temporary copy.  An exiv2 crash is provoked with the worker's documented fault
injection (``SCENED_METADATA_WORKER_CRASH_ON``: the worker kills itself with SIGSEGV
on a file whose name contains the value).
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

from .torture_helpers import exif_keywords, pixels, real_image, run_scened, save, sha256

FILE_SIZE_LIMIT = 1 << 20


def limit_file_size() -> None:
    """In the child before exec: no file may grow past 1 MiB; no SIGXFSZ, just EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def test_disk_full_leaves_every_original_intact_and_is_reported(tmp_path: Path) -> None:
    library = tmp_path / "library"
    small = [save(real_image(i, (320, 240)), library / f"small{i}.jpg", quality=90)
             for i in range(3)]  # fmt: skip
    big = [
        save(real_image(3, (3000, 2000)), library / "big.png"),
        save(real_image(4, (4000, 3000)), library / "DSC_big.jpg", quality=98),
    ]
    assert all(p.stat().st_size > FILE_SIZE_LIMIT for p in big)
    before = {p: (sha256(p), pixels(p)) for p in small + big}

    result = run_scened(library, tmp_path / "state", preexec_fn=limit_file_size)

    assert result.returncode == 1, result.stdout + result.stderr
    failures = result.failures()
    assert sorted(failures) == sorted(p.name for p in big), result.stdout
    assert all(reason == "could not write: File too large" for reason in failures.values())
    for path in big:
        assert sha256(path) == before[path][0], f"{path.name} was changed"
    keywords = exif_keywords(small)
    for path in small:
        assert keywords[path] and pixels(path) == before[path][1]
    assert not [p.name for p in library.rglob("*scened-tmp*")], "temporary copies left"

    again = run_scened(library, tmp_path / "state")  # space again: the failures are retried

    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 tagged" in again.summary() and "3 unchanged" in again.summary()
    assert all(exif_keywords(big)[p] for p in big)
    assert all(pixels(p) == before[p][1] for p in big)


def test_a_metadata_library_crash_fails_that_photo_only(tmp_path: Path) -> None:
    library = tmp_path / "library"
    photos = [save(real_image(i, (320, 240)), library / f"photo{i}.jpg", quality=90)
              for i in range(4)]  # fmt: skip
    poison = save(real_image(4, (320, 240)), library / "photo2-malformed.jpg", quality=90)
    photos.append(save(real_image(5, (320, 240)), library / "zz-after.jpg", quality=90))
    poison_hash = sha256(poison)

    result = run_scened(
        library, tmp_path / "state",
        extra_env={"SCENED_METADATA_WORKER_CRASH_ON": "malformed"},
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    failures = result.failures()
    assert list(failures) == ["photo2-malformed.jpg"], result.stdout
    assert "crashed (SIGSEGV)" in failures["photo2-malformed.jpg"]
    assert sha256(poison) == poison_hash
    keywords = exif_keywords(photos)
    assert all(keywords[p] for p in photos), keywords
    assert f"{len(photos)} tagged" in result.summary()
