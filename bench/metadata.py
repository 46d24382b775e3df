"""Benchmark of keyword writing: photos per second through the metadata worker.

Makes ``--count`` copies of one JPEG of ``--size`` pixels (a real photo from
``--photo`` resized, or a synthetic gradient) in a temporary folder, then times
tagging (embedded, atomic copy + worker + rename), re-tagging with other tags,
untagging, and writing sidecars.  Prints one line per step.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--photo", type=Path, default=None)
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
