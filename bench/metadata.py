"""Benchmark of keyword writing: photos per second through the metadata worker.

Makes ``--count`` copies of one JPEG of ``--size`` pixels (a real photo from
``--photo`` resized, or a synthetic gradient) in a temporary folder, then times
tagging (embedded, atomic copy + worker + swap), re-tagging with other tags,
untagging, and writing sidecars.  Prints one line per step.

``--compare-swap`` also times tagging the way it was done before the compare-and-swap
write (a plain rename, no extended attributes copied), alternating with the current
way on fresh copies, and prints the ratio: the safety must not cost throughput.

``--compare-write`` times the ways of writing the keywords of a photo already read
(the choice of issue 16), on fresh copies, each to the file system with fsync and
compare-and-swap: exiv2 on a copy of the file (the way before), exiv2 on the whole
photo in memory, and exiv2 on the keyword segments alone spliced back in memory (the
way now, :mod:`scened.metadata.jpeg_segments`); and, apart, the exiv2 part alone.

    .venv/bin/python bench/metadata.py --count 50 --size 4000x3000
    .venv/bin/python bench/metadata.py --count 30 --compare-write --size 6000x4000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _library import upscale

from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter


def make_jpeg(path: Path, size: tuple[int, int], photo: Path | None) -> None:
    """A camera-like JPEG: a real photo upscaled with sensor-like grain (3-6 MB, as a
    camera's), or a smooth synthetic gradient."""
    if photo is not None:
        upscale(photo, size).save(path, quality=92)
        return
    Image.linear_gradient("L").convert("RGB").resize(size).save(path, quality=90)


def timed(label: str, paths: list[Path], step: Callable[[Path], object]) -> None:
    start = time.perf_counter()
    for path in paths:
        step(path)
    elapsed = time.perf_counter() - start
    each_ms = 1000 * elapsed / len(paths)
    print(f"{label:<20} {len(paths) / elapsed:8.1f} photos/s  {each_ms:7.1f} ms each")


def compare_swap(paths: list[Path], writer: KeywordWriter, options: KeywordOptions) -> None:
    """Tag fresh copies alternately the current way and the old way; print both rates."""
    from scened.metadata import atomic

    real_exchange, real_xattrs = atomic._renameat2, atomic._copy_extended_attributes
    totals = {"now": 0.0, "before": 0.0}
    for round_ in range(2):
        for mode in ("now", "before") if round_ == 0 else ("before", "now"):
            copies = [p.with_name(f"{mode}-{round_}-{p.name}") for p in paths]
            for path, copy in zip(paths, copies, strict=True):
                shutil.copyfile(path, copy)
            if mode == "before":
                atomic._renameat2 = lambda *args: False  # type: ignore[assignment]
                atomic._copy_extended_attributes = lambda *args: None  # type: ignore[assignment]
            start = time.perf_counter()
            for copy in copies:
                writer.tag_file(copy, ["Beach", "Sky"], options, model_id="m")
            totals[mode] += time.perf_counter() - start
            atomic._renameat2, atomic._copy_extended_attributes = real_exchange, real_xattrs
    count = 2 * len(paths)
    now, before = count / totals["now"], count / totals["before"]
    print(f"swap       {now:8.1f} photos/s  (plain rename as before: {before:.1f}; "
          f"{now / before:.2f} of it)")  # fmt: skip


def compare_write(paths: list[Path], writer: KeywordWriter, options: KeywordOptions) -> None:
    """Milliseconds a photo for each way of writing its keywords (fresh copies each)."""
    from scened.metadata import jpeg_segments
    from scened.metadata.atomic import replace_contents
    from scened.metadata.fields import Provenance
    from scened.metadata.tagger import _tag_planner
    from scened.types import Spliced

    provenance = Provenance("m")
    planner = _tag_planner(["Beach", "Sky"], options, provenance)

    def whole(data: bytes, path: Path) -> bytes | None:
        return writer._edit_content(data, path, planner)

    def spliced(data: bytes, path: Path) -> Spliced | None:
        found = jpeg_segments.find(data)
        assert found is not None
        edited = whole(jpeg_segments.carrier(data, found), path)
        segments = jpeg_segments.keyword_segments_of(edited) if edited else None
        return jpeg_segments.splice(data, found, segments) if segments is not None else None

    def signature(path: Path) -> tuple[int, int, int, int]:
        st = path.stat()
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    ways: dict[str, Callable[[Path], object]] = {
        "file": lambda p: writer.tag_file(p, ["Beach", "Sky"], options, provenance=provenance),
        "memory": lambda p: replace_contents(
            p, lambda d: whole(d, p), content=p.read_bytes(), expect=signature(p)),
        "spliced": lambda p: replace_contents(
            p, lambda d: spliced(d, p), content=p.read_bytes(), expect=signature(p)),
    }  # fmt: skip
    data = paths[0].read_bytes()
    edits = {"memory (exiv2 only)": whole, "spliced (exiv2 only)": spliced}
    for label, step in ways.items():
        copies = [p.with_name(f"{label}-{p.name}") for p in paths]
        for path, copy in zip(paths, copies, strict=True):
            shutil.copyfile(path, copy)
        timed(label, copies, step)  # a read of the photo included in memory/spliced
    for label, edit in edits.items():
        timed(label, paths, lambda p, edit=edit: edit(data, p))  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--compare-swap", action="store_true")
    parser.add_argument("--compare-write", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    writer = KeywordWriter()
    options = KeywordOptions()
    with tempfile.TemporaryDirectory() as folder:
        first = Path(folder) / "photo-0.jpg"
        make_jpeg(first, (width, height), args.photo)
        paths = [first] + [Path(folder) / f"photo-{i}.jpg" for i in range(1, args.count)]
        for path in paths[1:]:
            shutil.copyfile(first, path)
        print(f"{args.count} JPEGs of {width}x{height}, {first.stat().st_size / 1e6:.1f} MB each")
        writer.read(first)  # start the worker outside the timings
        if args.compare_swap:
            compare_swap(paths, writer, options)
        if args.compare_write:
            compare_write(paths, writer, options)
            writer.worker.close()
            return
        timed("tag", paths, lambda p: writer.tag_file(p, ["Beach", "Sky"], options, model_id="m"))
        timed("retag", paths, lambda p: writer.tag_file(p, ["Forest"], options, model_id="m"))
        timed("untag", paths, writer.untag)
        timed(
            "sidecar",
            paths,
            lambda p: writer.tag_sidecar(p.with_suffix(".xmp"), p, ["Beach"], options),
        )
    writer.worker.close()


if __name__ == "__main__":
    main()
