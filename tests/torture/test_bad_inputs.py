"""One library holding every kind of bad input next to good photos of every odd kind.

``scened run --once`` (a subprocess, bundled model) must tag every good photo (exiftool
reads our keywords back, pixels untouched), report every bad photo with a clear reason
(left byte for byte as it was), skip what is not a photo at all without hanging on it
(a FIFO, a folder named ``x.jpg``, dangling and looping symlinks), refuse a
decompression bomb before decoding it, and exit non-zero.
"""

from __future__ import annotations

import logging
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .torture_helpers import (
    exif_keywords,
    pixels,
    real_image,
    run_scened,
    save,
    sha256,
    snapshot,
)

#: Far above what the run needs (~250 MiB), far below what decoding the bomb would take
#: (20000x20000 as RGB is 1.2 GB).
BOMB_RSS_BOUND_KIB = 700 * 1024


def bilevel_png_bomb(path: Path, side: int = 20_000) -> None:
    """A valid 1-bit PNG of ``side``x``side`` pixels: ~60 KB on disk, 400 Mpx decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # depth 1, greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def mangle_exif(data: bytes) -> bytes:
    """A JPEG whose APP1 Exif segment is garbage after the header (length kept)."""
    start = data.index(b"Exif\x00\x00")
    length = int.from_bytes(data[start - 2 : start], "big")
    garbage = bytes((i * 37 + 11) % 256 for i in range(length - 2 - 6))
    return data[: start + 6] + garbage + data[start - 2 + length :]


def exif_segment(path: Path) -> bytes:
    """The APP1 Exif segment of a JPEG, as bytes."""
    data = path.read_bytes()
    start = data.index(b"Exif\x00\x00")
    return data[start - 2 : start - 2 + int.from_bytes(data[start - 2 : start], "big")]


def build_library(root: Path) -> tuple[list[Path], dict[str, str]]:
    """Good photos (to be tagged) and bad files (name → expected words of the reason)."""
    good: list[Path] = []
    size = (320, 240)
    good.append(save(real_image(0, size), root / "plain.jpg", quality=90))
    good.append(save(real_image(1, size), root / "with spaces in name.jpg", quality=90))
    good.append(save(real_image(2, size), root / "new\nline.jpg", quality=90))
    good.append(save(real_image(3, size), root / "Été à 東京 ☀.jpg", quality=90))
    good.append(save(real_image(4, size), root / "png-inside.jpg", "PNG"))
    good.append(save(real_image(5, size).convert("CMYK"), root / "cmyk.jpg", quality=90))
    good.append(save(real_image(6, size).convert("L"), root / "grey.jpg", quality=90))
    deep = np.asarray(real_image(7, size).convert("L"), dtype=np.uint16) * 257
    good.append(save(Image.fromarray(deep), root / "deep16.png"))
    assert Image.open(good[-1]).mode == "I;16"
    palette = real_image(8, size).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    good.append(save(palette, root / "palette-transparent.png", transparency=0))
    good.append(save(real_image(9, size).convert("1"), root / "bilevel.tif", compression="group4"))
    exif = real_image(10, size).getexif()
    exif[0x010F] = "Camera"
    save(real_image(10, size), root / "bad-exif.jpg", quality=90, exif=exif.tobytes())
    (root / "bad-exif.jpg").write_bytes(mangle_exif((root / "bad-exif.jpg").read_bytes()))
    # exiv2 cannot parse this EXIF; scened edits only the XMP and IPTC segments of a
    # JPEG, so the photo is tagged with its (garbage) EXIF kept byte for byte
    good.append(root / "bad-exif.jpg")
    good.append(save(real_image(11, size), root / "folder.jpg" / "inside.jpg", quality=90))

    bad = {
        "empty.jpg": "not an image",
        "truncated.jpg": "truncated",
        "notes.jpg": "not an image",
        "bomb.png": "decompression bomb",
    }
    (root / "empty.jpg").touch()
    whole = save(real_image(12, (640, 480)), root / "whole.jpg", quality=90).read_bytes()
    (root / "whole.jpg").unlink()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "notes.jpg").write_text("shopping list: milk, eggs\n")
    bilevel_png_bomb(root / "bomb.png")

    os.mkfifo(root / "pipe.jpg")
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "folder.jpg" / "up").symlink_to(root, target_is_directory=True)  # a folder loop
    return good, bad


def test_every_bad_input_is_reported_and_every_good_photo_tagged(tmp_path: Path) -> None:
    library = tmp_path / "library"
    good, bad = build_library(library)
    before = snapshot(good)
    bad_hashes = {name: sha256(library / name) for name in bad}
    garbage_exif = exif_segment(library / "bad-exif.jpg")

    result = run_scened(library, tmp_path / "state")

    assert result.returncode == 1, result.stdout + result.stderr
    failures = result.failures()
    assert set(failures) == set(bad), result.stdout
    for name, words in bad.items():
        assert words in failures[name].lower(), (name, failures[name])
    summary = result.summary()
    assert f"{len(good) + len(bad)} found" in summary and f"{len(good)} tagged" in summary
    keywords = exif_keywords(good)
    for path in good:
        assert keywords[path], f"{path.name} has no keywords"
        assert pixels(path) == before[path][1], f"{path.name}: pixels changed"
    for name, digest in bad_hashes.items():
        assert sha256(library / name) == digest, f"{name} was changed"
    assert exif_segment(library / "bad-exif.jpg") == garbage_exif
    assert stat_is_fifo(library / "pipe.jpg")
    skipped = {
        line.split(": ", 2)[1]: line.split(": ", 2)[2]
        for line in result.stdout.splitlines()
        if line.startswith("  skipped: ")
    }
    assert {Path(p).name: reason for p, reason in skipped.items()} == {
        "pipe.jpg": "not a regular file but a FIFO; never opened",
        "dangling.jpg": f"dangling symlink (to {library / 'nowhere.jpg'})",
        "loop.jpg": "symlink loop",
        "folder.jpg": "a folder named like a photo (its contents are scanned)",
    }
    assert "4 skipped" in summary
    assert 0 < result.peak_rss_kib < BOMB_RSS_BOUND_KIB, f"peak RSS {result.peak_rss_kib} KiB"
    leftovers = [p.name for p in library.rglob("*scened-tmp*")]
    assert not leftovers


def stat_is_fifo(path: Path) -> bool:
    import stat

    return stat.S_ISFIFO(path.lstat().st_mode)


def test_a_file_deleted_between_scan_and_read_fails_alone(tmp_path: Path) -> None:
    """The scan has stat'ed the file; it is gone when the reader opens it."""
    from scened.config import parse_config
    from scened.daemon import snapshot
    from scened.daemon.scan import FileEntry, Scanner
    from scened.daemon.service import run_library, settings_for
    from scened.model.runtime import load_classifier
    from scened.plugins import get_plugin_manager

    library = tmp_path / "library"
    keep = [save(real_image(i, (320, 240)), library / f"keep{i}.jpg", quality=90) for i in range(3)]
    save(real_image(3, (320, 240)), library / "vanishing.jpg", quality=90)

    class VanishingScanner(Scanner):
        def __iter__(self) -> Iterator[FileEntry]:
            for entry in super().__iter__():
                yield entry
                if entry.path.name == "vanishing.jpg":
                    entry.path.unlink()

    config = parse_config(
        {"state_dir": str(tmp_path / "state"),
         "libraries": [{"path": str(library), "name": "lib", "sinks": [{"type": "xmp"}],
                        # every good photo must get a keyword, however unsure the model
                        "policy": {"type": "threshold", "min_probability": 0.0, "top_k": 1}}]},
        None,
    )  # fmt: skip
    patch = pytest.MonkeyPatch()
    patch.setattr(snapshot, "Scanner", VanishingScanner)  # what scanner_for builds
    try:
        summary = run_library(
            config.libraries[0], config=config, classifier=load_classifier(),
            pm=get_plugin_manager(), settings=settings_for(config, dry_run=False),
        )  # fmt: skip
    finally:
        patch.undo()

    assert (summary.found, summary.tagged, summary.failed) == (4, 3, 1)
    [(path, reason)] = summary.failures
    assert path.name == "vanishing.jpg" and "no such file" in reason.lower()
    assert all(exif_keywords(keep)[p] for p in keep)


def test_an_unreadable_photo_fails_alone(tmp_path: Path) -> None:
    """chmod 000 does not stop root (CAP_DAC_OVERRIDE), so as root the run is made with
    the two capabilities that bypass file permissions dropped from its bounding set
    (``setpriv``): root then reads a mode-000 file it owns no more than anyone would.
    (Switching to ``nobody`` does not work here: the interpreter lives under /root.)
    As any other user the run is made directly."""
    library, state = tmp_path / "library", tmp_path / "state"
    good = [save(real_image(i, (320, 240)), library / f"good{i}.jpg", quality=90)
            for i in range(2)]  # fmt: skip
    secret = save(real_image(2, (320, 240)), library / "secret.jpg", quality=90)
    secret_hash = sha256(secret)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run without CAP_DAC_OVERRIDE"
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    secret.chmod(0)
    try:
        result = run_scened(library, state, prefix=prefix)
    finally:
        secret.chmod(0o644)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.failures() == {"secret.jpg": "cannot read: Permission denied"}
    assert all(exif_keywords(good)[p] for p in good)
    assert sha256(secret) == secret_hash


def tiff_with_an_unreadable_tag(path: Path) -> Path:
    """An LZW TIFF that decodes fine but whose private tag has an undefined type: libtiff
    complains about it on stderr through its global handler."""
    import struct

    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[65000] = "private"
    save(real_image(3, (96, 64)), path, "TIFF", compression="tiff_lzw", tiffinfo=info)
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[ifd : ifd + 2])[0]
    last = ifd + 2 + (count - 1) * 12  # entries are sorted: tag 65000 comes last
    assert struct.unpack("<H", data[last : last + 2])[0] == 65000
    data[last + 2 : last + 4] = struct.pack("<H", 99)  # no such TIFF type
    path.write_bytes(bytes(data))
    return path


def test_libtiff_messages_stay_off_a_runs_stderr(tmp_path: Path) -> None:
    library = tmp_path / "library"
    tiff_with_an_unreadable_tag(library / "scan.tif")

    result = run_scened(library, tmp_path / "state")

    assert result.returncode == 0, result.stderr
    assert "1 tagged" in result.summary()
    assert "TIFF" not in result.stderr, result.stderr  # nothing raw from libtiff


def test_libtiff_messages_reach_the_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from scened.imaging import load_for_model

    photo = tiff_with_an_unreadable_tag(tmp_path / "scan.tif")
    caplog.set_level(logging.DEBUG, logger="scened.libtiff")

    assert load_for_model(photo, size=64).shape == (64, 64, 3)

    assert "TIFFFetchNormalTag" in caplog.text and "custom tag 65000" in caplog.text
    assert "TIFF" not in capfd.readouterr().err  # fd 2 itself: what libtiff would write to
