"""Throughput of tagging a library: naive baseline, decode ceiling, ``scened run --once``.

Builds camera-like libraries in a temporary folder, 12 MP (4000x3000, 240 JPEGs and 16
PNGs) and 24 MP (6000x4000, 96 JPEGs): camera EXIF, an embedded thumbnail, sensor-like
grain, made from real photos.  For each, in one run:

1. **ceiling**: scened's own reader alone (read + hash + reduced-DCT decode + crop, for
   the bundled model's input size) on as many threads as the pipeline has readers:
   nothing can go faster than the photos can be read and decoded.  Measured before and
   after the two runs below, which are compared with the mean;
2. **dry run**: ``scened run --once --dry-run``: the same without writing (shows what
   the keyword writes cost);
3. **scened**: ``scened run --once`` as a subprocess with a fresh state folder, end to
   end: model load, scan, decode, batched inference, keywords written into every
   photo (the default xmp sink), state recorded;
4. **stages**: where one photo's milliseconds go, each stage timed alone on one
   thread on a sample (read, hash, decode, inference, keyword edit, write with fsync
   and swap, state record), so that the end-to-end figure can be read against them.

Then, on the 12 MP library, **naive**: what a straightforward script does (full-size
decode, the Keras model, one image at a time; on a sample: it is slow).

Prints images/s for each, the ratios scened/naive and scened/ceiling, the peak RSS
of the scened process (its ``VmHWM``) and the peak of the memory scened and its
metadata worker processes use together (the sum of their PSS, polled every 50 ms:
shared pages such as libpython's counted once), both from a third, untimed end-to-end
run on an untouched copy of the library (reading the PSS slows the run it measures).
Targets: scened >= 0.6x ceiling on both (0.8 the goal), >= 15x naive, peak memory
<= 300 MB (10^6 bytes).

    .venv/bin/python bench/throughput.py            # both libraries
    .venv/bin/python bench/throughput.py --quick    # 60 + 24 JPEGs, 4 PNGs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _library import DEFAULT_GRAIN, Library, build_library

from scened.daemon.jobs import read_photo
from scened.imaging import load_for_model
from scened.model.runtime import BUNDLED_MODEL_DIR

SCENED = str(Path(sys.executable).with_name("scened"))
READERS = 2  # the pipeline's default [pipeline] readers


def bundled_model() -> tuple[int, str]:
    """The input size and backbone of the model ``scened run`` uses by default: the
    ceiling decodes for that size (a 224 px model needs a larger reduced-DCT decode
    than a 160 px one), and the naive baseline rebuilds that very model."""
    meta = json.loads((BUNDLED_MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    return int(meta["input"]["size"]), str(meta["backbone"])


def naive(photos: list[Path]) -> float:
    """Images/s of full decode + Keras, one image at a time."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scened_training.model import rebuild_model  # type: ignore[import-not-found]

    size, backbone = bundled_model()
    model = rebuild_model(BUNDLED_MODEL_DIR / "head.npz", size, backbone)
    warm = load_for_model(photos[0], size=size, use_draft=False)
    model(warm[None].astype(np.float32), training=False)  # build the graph outside the clock
    start = time.perf_counter()
    for path in photos:
        pixels = load_for_model(path, size=size, use_draft=False)
        model(pixels[None].astype(np.float32), training=False)
    return len(photos) / (time.perf_counter() - start)


def _read_and_decode(path: Path, size: int) -> None:
    _, data = read_photo(path)
    load_for_model(data if data is not None else path, size=size)


def ceiling(photos: list[Path], threads: int) -> float:
    """Images/s of scened's reader stage alone on ``threads`` threads, decoding for the
    bundled model's input size as scened does."""
    size, _ = bundled_model()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda path: _read_and_decode(path, size), photos):
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


def _is_worker(pid: int) -> bool:
    """Whether ``pid`` runs a metadata worker already: a child caught between its fork
    and its exec still shows the parent's memory (counted twice otherwise)."""
    try:
        return b"scened.metadata.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _status_kib(pid: int, field: str, file: str = "status") -> int:
    """One ``kB`` field of ``/proc/PID/status`` (or ``smaps_rollup``); 0 once gone."""
    try:
        lines = Path(f"/proc/{pid}/{file}").read_text().splitlines()
    except OSError:
        return 0
    found = [line.split()[1] for line in lines if line.startswith(f"{field}:")]
    return int(found[0]) if found else 0


def _high_water_kib(pid: int) -> int:
    """VmHWM: the peak RSS of ``pid``'s current address space (so not inflated by the
    memory of the parent it was forked from, unlike ``ru_maxrss``)."""
    return _status_kib(pid, "VmHWM")


def _tree_pss_kib(pids: list[int]) -> int:
    """The memory the processes use together now: their PSS (each shared page, such as
    libpython's, counted once across them, not once in each)."""
    return sum(_status_kib(pid, "Pss", "smaps_rollup") for pid in pids)


def scened_run(
    library: Library, work: Path, *options: str, root: Path | None = None, memory: bool = False
) -> tuple[float, float, int, int, str]:
    """(images/s, seconds, peak RSS of scened, peak PSS of scened + workers in bytes,
    summary) of ``scened run --once`` on ``root`` (the library's, or a copy of it).

    Only a ``memory`` run measures the PSS: reading ``smaps_rollup`` costs ~6 ms of CPU
    a process here and takes the process's memory map lock, which would slow the run
    it measures (timed runs read only ``status``, microseconds).
    """
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(work / ("memory-state" if memory else "state")),
        "XDG_CONFIG_HOME": str(work / "config"),  # no config file: the defaults
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        [SCENED, "run", "--once", *options, str(root or library.root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    main_peak, tree_peak = 0, 0
    while process.poll() is None:
        main_peak = max(main_peak, _high_water_kib(process.pid))
        if memory:
            pids = [pid for pid in _tree(process.pid) if pid == process.pid or _is_worker(pid)]
            tree_peak = max(tree_peak, _tree_pss_kib(pids))
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    assert process.stdout is not None
    output = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"scened run failed ({process.returncode}):\n{output}")
    summary = next(line for line in output.splitlines() if " found, " in line)
    expected = f"{len(library.photos)} {'would tag' if options else 'tagged'}"
    if expected not in summary:
        raise SystemExit(f"expected {expected!r}: {summary}")
    return len(library.photos) / elapsed, elapsed, main_peak * 1024, tree_peak * 1024, summary


def stage_profile(photos: list[Path], work: Path) -> dict[str, float]:
    """Milliseconds a photo of each stage, timed alone on one thread, on copies of
    ``photos`` (the writes are real: fsync, compare and swap)."""
    import hashlib

    from scened.daemon.state import PhotoRecord, StateDB
    from scened.imaging import pixel_digest
    from scened.metadata import jpeg_segments
    from scened.metadata.client import MetadataWorker
    from scened.metadata.fields import KeywordOptions, Provenance
    from scened.metadata.tagger import KeywordWriter, _tag_planner
    from scened.model.runtime import load_model_folder

    folder = work / "profile"
    folder.mkdir()
    copies = [Path(shutil.copy(path, folder / f"{i:04d}{path.suffix}"))
              for i, path in enumerate(photos)]  # fmt: skip
    classifier = load_model_folder(BUNDLED_MODEL_DIR)
    worker = MetadataWorker(processes=1)
    writer, options, provenance = KeywordWriter(worker), KeywordOptions(), Provenance("m")
    planner = _tag_planner(["Beach", "Sky"], options, provenance)
    worker.read(copies[0])  # start the worker outside the timings
    spent: dict[str, float] = dict.fromkeys(
        ("read", "hash", "decode", "inference", "keyword edit", "write", "record"), 0.0
    )
    state = StateDB.open(work / "profile-state")
    batch: list[np.ndarray] = []

    def clock(stage: str, started: float) -> float:
        now = time.perf_counter()
        spent[stage] += now - started
        return now

    for path in copies:
        start = time.perf_counter()
        data = path.read_bytes()
        start = clock("read", start)
        digest = hashlib.sha256(data).hexdigest()
        start = clock("hash", start)
        batch.append(load_for_model(data, size=classifier.input_size))
        start = clock("decode", start)
        found = jpeg_segments.find(data)
        writer._edit_content(jpeg_segments.carrier(data, found) if found else data, path, planner)
        start = clock("keyword edit", start)
        st = path.stat()
        replaced = writer.tag_content(path, data, ["Beach", "Sky"], options,
                                      expect=(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
                                      provenance=provenance)  # fmt: skip
        start = clock("write", start)
        with state.transaction():
            state.record(PhotoRecord(
                library="bench", path=path, device=st.st_dev, inode=st.st_ino,
                size=st.st_size, mtime_ns=st.st_mtime_ns,
                content_hash=replaced.digest if replaced else digest, model_id="m",
                policy="p", probabilities=(1.0,), tags=("Beach",), outcome="tagged",
                error=None, pixel_digest=pixel_digest(batch[-1]),
            ))  # fmt: skip
        clock("record", start)
    start = time.perf_counter()
    for first in range(0, len(batch), 16):
        classifier.predict(np.stack(batch[first : first + 16]))
    clock("inference", start)
    worker.close()
    state.close()
    spent["write"] -= spent["keyword edit"]  # the edit is timed on its own above
    return {stage: 1000 * seconds / len(copies) for stage, seconds in spent.items()}


@dataclass(frozen=True)
class Figures:
    name: str
    ceiling: float
    dry: float
    rate: float
    peak_rss: int
    tree_rss: int
    stages: dict[str, float]


def measure(name: str, library: Library, work: Path, sample: int) -> Figures:
    """Ceiling, dry run, end to end and the stage profile of one library.

    The ceiling is measured before and after the two runs, and the runs are compared
    with the mean of the two: a machine that gets faster or slower during the runs
    (a shared one does) biases neither way."""
    untouched = work / "memory-library"  # for the memory run, after the timed ones
    shutil.copytree(library.root, untouched)
    os.sync()
    before = ceiling(library.photos, READERS)
    dry_rate, dry_elapsed, _, _, _ = scened_run(library, work, "--dry-run")
    rate, elapsed, _, _, summary = scened_run(library, work)
    after = ceiling(library.photos, READERS)
    _, _, peak_rss, tree_rss, _ = scened_run(library, work, root=untouched, memory=True)
    ceiling_rate = (before + after) / 2
    print(f"  ceiling  {ceiling_rate:7.1f} images/s  (scened's read + decode alone, "
          f"{READERS} threads, {len(library.photos)} images; the mean of {before:.1f} "
          f"before the runs and {after:.1f} after)")  # fmt: skip
    print(f"  dry run  {dry_rate:7.1f} images/s  (run --once --dry-run: decode + classify, "
          f"no writes: {dry_elapsed:.1f} s; {dry_rate / ceiling_rate:.2f} of ceiling)")  # fmt: skip
    print(f"  scened   {rate:7.1f} images/s  (run --once end to end incl. model load and "
          f"keyword writes: {elapsed:.1f} s; {rate / ceiling_rate:.2f} of ceiling)")  # fmt: skip
    print(f"           {summary}")
    step = max(1, len(library.jpegs) // sample)
    stages = stage_profile(library.jpegs[::step][:sample], work)
    total = sum(stages.values())
    print("  stages (ms a photo, one thread): " + ", ".join(
        f"{stage} {ms:.1f}" for stage, ms in stages.items()) + f"; sum {total:.1f}")  # fmt: skip
    return Figures(name, ceiling_rate, dry_rate, rate, peak_rss, tree_rss, stages)


LIBRARIES = {
    "12 MP": {"size": (4000, 3000), "jpegs": 240, "pngs": 16, "quick": (60, 4)},
    "24 MP": {"size": (6000, 4000), "jpegs": 96, "pngs": 0, "quick": (24, 0)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-sample", type=int, default=16)
    parser.add_argument("--stage-sample", type=int, default=24)
    parser.add_argument("--quick", action="store_true", help="smaller libraries and samples")
    parser.add_argument("--only", choices=sorted(LIBRARIES), help="one library only")
    parser.add_argument(
        "--grain", type=float, default=DEFAULT_GRAIN,
        help="sensor-like noise added to the upscaled photos (0: smooth, smaller files)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.naive_sample, args.stage_sample = 8, 12
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    results: list[Figures] = []
    for name, spec in LIBRARIES.items():
        if args.only and name != args.only:
            continue
        jpegs, pngs = spec["quick"] if args.quick else (spec["jpegs"], spec["pngs"])
        width, height = spec["size"]
        with tempfile.TemporaryDirectory(prefix="scened-bench-") as folder:
            work = Path(folder)
            started = time.perf_counter()
            library = build_library(work / "library", jpegs=jpegs, pngs=pngs,
                                    size=(width, height), grain=args.grain)  # fmt: skip
            built = time.perf_counter()
            os.sync()  # scened meets a library at rest, not one the kernel is writing back
            print(f"{name}: {len(library.jpegs)} JPEGs {width}x{height} (EXIF + thumbnail) "
                  f"and {len(library.pngs)} PNGs 2000x1500, grain {args.grain}, "
                  f"{library.total_bytes / 1e6:.0f} MB, built in {built - started:.0f} s, "
                  f"synced in {time.perf_counter() - built:.0f} s")  # fmt: skip
            results.append(measure(name, library, work, args.stage_sample))
            if name == "12 MP":
                step = max(1, len(library.photos) // args.naive_sample)
                sample = library.photos[::step][: args.naive_sample]
                naive_rate = naive(sample)  # last: TensorFlow's memory must not be forked
                print(f"  naive    {naive_rate:7.1f} images/s  (full decode + Keras, 1 at a "
                      f"time, {len(sample)} images)")  # fmt: skip
                print(f"  scened/naive {results[-1].rate / naive_rate:6.1f}x (target >= 15)")
    for figures in results:
        print(f"{figures.name}: scened/ceiling {figures.rate / figures.ceiling:.2f} "
              f"(target >= 0.6, goal 0.8), dry run/ceiling {figures.dry / figures.ceiling:.2f}, "
              f"peak RSS {figures.peak_rss / 1e6:.0f} MB (target <= 300 MB; "
              f"{figures.tree_rss / 1e6:.0f} MB with the metadata workers, "
              f"their PSS together at its peak)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
