"""Benchmark of `scened run --once` throughput: photos per second through the pipeline.

Builds a library of camera-size JPEGs and some PNGs (bench/_library.py) in a temporary
folder, then times a first run (read + hash + decode + classify + write XMP + record)
and a second run over the unchanged library (stat only).  Uses the bundled model
unless ``--model`` names another folder.  Prints one line per run.

    .venv/bin/python bench/daemon.py --jpegs 100 --pngs 10 --readers 2 --batch-size 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _library import build_library

from scened.config import parse_config
from scened.daemon.service import classifier_from_config, run_library, settings_for
from scened.plugins import get_plugin_manager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jpegs", type=int, default=100)
    parser.add_argument("--pngs", type=int, default=10)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sink", default="xmp", help="sink type (xmp, json, ...)")
    parser.add_argument("--model", type=Path, help="model folder (default: bundled)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scened-bench-") as tmp:
        root = Path(tmp) / "library"
        print(f"building {args.jpegs} JPEGs + {args.pngs} PNGs ...", flush=True)
        library = build_library(root, jpegs=args.jpegs, pngs=args.pngs)
        model = {"batch_size": args.batch_size} | ({"path": str(args.model)} if args.model else {})
        sink: dict[str, str] = {"type": args.sink}
        if args.sink == "json":
            sink["path"] = str(Path(tmp) / "tags.jsonl")
        config = parse_config(
            {
                "state_dir": str(Path(tmp) / "state"),
                "model": model,
                "pipeline": {"readers": args.readers},
                "libraries": [{"path": str(root), "name": "bench", "sinks": [sink]}],
            },
            None,
        )
        classifier = classifier_from_config(config)
        pm = get_plugin_manager()
        size_mb = library.total_bytes / 1e6
        for label in ("first run", "unchanged"):
            started = time.perf_counter()
            summary = run_library(
                config.libraries[0], config=config, classifier=classifier, pm=pm,
                settings=settings_for(config, dry_run=False),
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            print(
                f"{label:>10}: {summary.found} photos ({size_mb:.0f} MB) in {elapsed:.2f} s = "
                f"{summary.found / elapsed:.1f} photos/s; {summary.classified} classified, "
                f"{summary.failed} failed; readers={args.readers} batch={args.batch_size} "
                f"sink={args.sink}",
                flush=True,
            )


if __name__ == "__main__":
    main()
