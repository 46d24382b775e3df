"""Throughput of tagging a library: naive baseline, decode ceiling, ``scened run --once``.

Builds a library of camera-size JPEGs (12 MP, camera EXIF, embedded thumbnail, made
from real photos) and some PNGs in a temporary folder, then, in one run:

1. **naive**: what a straightforward script does: full-size decode (no DCT scaling),
   the Keras model, one image at a time, sequentially (on a sample: it is slow);
2. **ceiling**: scened's own reader alone (read + hash + reduced-DCT decode +
   crop) on as many threads as the pipeline has readers: nothing can go faster than
   the photos can be read and decoded;
3. **dry run**: ``scened run --once --dry-run``: the same without writing (shows what
   the keyword writes cost);
4. **scened**: ``scened run --once`` as a subprocess with a fresh state folder, end to
   end: model load, scan, decode, batched inference, keywords written into every
   photo (the default xmp sink), state recorded.

Prints images/s for each, the ratios scened/naive and scened/ceiling, and the peak
RSS of the scened process (``VmHWM`` polled from /proc; also with its metadata worker
process added).  Targets: scened >= 15x naive, >= 0.8x ceiling, peak RSS <= 1 GB.

    .venv/bin/python bench/throughput.py            # 240 JPEGs + 16 PNGs
    .venv/bin/python bench/throughput.py --quick    # 60 JPEGs + 4 PNGs
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _library import DEFAULT_GRAIN, Library, build_library

from scened.daemon.jobs import read_photo
from scened.imaging import load_for_model
from scened.model.runtime import BUNDLED_MODEL_DIR

SCENED = str(Path(sys.executable).with_name("scened"))
READERS = 2  # the pipeline's default [pipeline] readers


def naive(photos: list[Path]) -> float:
    """Images/s of full decode + Keras, one image at a time."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scened_training.model import rebuild_model  # type: ignore[import-not-found]

    model = rebuild_model(BUNDLED_MODEL_DIR / "head.npz")
    warm = load_for_model(photos[0], use_draft=False)
    model(warm[None].astype(np.float32), training=False)  # build the graph outside the clock
    start = time.perf_counter()
    for path in photos:
        pixels = load_for_model(path, use_draft=False)
        model(pixels[None].astype(np.float32), training=False)
    return len(photos) / (time.perf_counter() - start)


def _read_and_decode(path: Path) -> None:
    _, data = read_photo(path)
    load_for_model(data if data is not None else path)


def ceiling(photos: list[Path], threads: int) -> float:
    """Images/s of scened's reader stage alone on ``threads`` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(_read_and_decode, photos):
            pass
    return len(photos) / (time.perf_counter() - start)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the metadata worker)."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                pids += _tree(int(child))
    except OSError:
        pass
    return pids


def _high_water_kib(pid: int) -> int:
    """VmHWM: the peak RSS of ``pid``'s current address space (so not inflated by the
    memory of the parent it was forked from, unlike ``ru_maxrss``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(found[0]) if found else 0


def scened_run(library: Library, work: Path, *options: str) -> tuple[float, float, int, int, str]:
    """(images/s, seconds, peak RSS of scened, of scened + worker in bytes, summary)."""
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(work / "state"),
        "XDG_CONFIG_HOME": str(work / "config"),  # no config file: the defaults
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        [SCENED, "run", "--once", *options, str(library.root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    peaks: dict[int, int] = {}
    while process.poll() is None:
        for pid in _tree(process.pid):
            peaks[pid] = max(peaks.get(pid, 0), _high_water_kib(pid))
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    assert process.stdout is not None
    output = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"scened run failed ({process.returncode}):\n{output}")
    summary = next(line for line in output.splitlines() if " found, " in line)
    expected = f"{len(library.photos)} {'would tag' if options else 'tagged'}"
    if expected not in summary:
        raise SystemExit(f"expected {expected!r}: {summary}")
    main_peak = peaks.get(process.pid, 0) * 1024
    return len(library.photos) / elapsed, elapsed, main_peak, sum(peaks.values()) * 1024, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jpegs", type=int, default=240)
    parser.add_argument("--pngs", type=int, default=16)
    parser.add_argument("--naive-sample", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="60 JPEGs, 4 PNGs, sample 8")
    parser.add_argument(
        "--grain", type=float, default=DEFAULT_GRAIN,
        help="sensor-like noise added to the upscaled photos (0: smooth, smaller files)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.jpegs, args.pngs, args.naive_sample = 60, 4, 8
    with tempfile.TemporaryDirectory(prefix="scened-bench-") as folder:
        work = Path(folder)
        started = time.perf_counter()
        library = build_library(
            work / "library", jpegs=args.jpegs, pngs=args.pngs, grain=args.grain
        )
        print(
            f"library: {len(library.jpegs)} JPEGs 4000x3000 (EXIF + thumbnail) and "
            f"{len(library.pngs)} PNGs 2000x1500, grain {args.grain}, "
            f"{library.total_bytes / 1e6:.0f} MB, "
            f"built in {time.perf_counter() - started:.0f} s"
        )
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        ceiling_rate = ceiling(library.photos, READERS)
        print(f"ceiling  {ceiling_rate:7.1f} images/s  (scened's read + decode alone, "
              f"{READERS} threads, {len(library.photos)} images)")  # fmt: skip
        dry_rate, dry_elapsed, _, _, _ = scened_run(library, work, "--dry-run")
        print(
            f"dry run  {dry_rate:7.1f} images/s  (run --once --dry-run: decode + classify, "
            f"no writes: {dry_elapsed:.1f} s; {dry_rate / ceiling_rate:.2f} of ceiling)"
        )
        rate, elapsed, peak_rss, tree_rss, summary = scened_run(library, work)
        print(f"scened   {rate:7.1f} images/s  (run --once end to end incl. model load and "
              f"keyword writes: {elapsed:.1f} s)")  # fmt: skip
        print(f"         {summary}")
        step = max(1, len(library.photos) // args.naive_sample)
        sample = library.photos[::step][: args.naive_sample]
        naive_rate = naive(sample)  # last: TensorFlow's memory must not be forked above
        print(f"naive    {naive_rate:7.1f} images/s  (full decode + Keras, 1 at a time, "
              f"{len(sample)} images)")  # fmt: skip
        print(f"scened/naive   {rate / naive_rate:6.1f}x   (target >= 15)")
        print(f"scened/ceiling {rate / ceiling_rate:6.2f}    (target >= 0.8)")
        print(f"peak RSS       {peak_rss / 2**20:6.0f} MiB (target <= 1024; "
              f"{tree_rss / 2**20:.0f} MiB with the metadata worker)")  # fmt: skip
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
