"""Benchmark of keyword writing: photos per second through the metadata worker.

Makes ``--count`` copies of one JPEG of ``--size`` pixels (a real photo from
``--photo`` resized, or a synthetic gradient) in a temporary folder, then times
tagging (embedded, atomic copy + worker + swap), re-tagging with other tags,
untagging, and writing sidecars.  Prints one line per step.

``--compare-swap`` also times tagging the way it was done before the compare-and-swap
write (a plain rename, no extended attributes copied), alternating with the current
way on fresh copies, and prints the ratio: the safety must not cost throughput.

    .venv/bin/python bench/metadata.py --count 50 --size 4000x3000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter


def make_jpeg(path: Path, size: tuple[int, int], photo: Path | None) -> None:
    if photo is not None:
        with Image.open(photo) as source:
            source.convert("RGB").resize(size).save(path, quality=90)
        return
    Image.linear_gradient("L").convert("RGB").resize(size).save(path, quality=90)


def timed(label: str, paths: list[Path], step: Callable[[Path], object]) -> None:
    start = time.perf_counter()
    for path in paths:
        step(path)
    elapsed = time.perf_counter() - start
    each_ms = 1000 * elapsed / len(paths)
    print(f"{label:<10} {len(paths) / elapsed:8.1f} photos/s  {each_ms:7.1f} ms each")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--compare-swap", action="store_true")
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
