"""Rescan of an unchanged library of 100,000 photos already known to the state.

Makes ``--files`` small but real, valid JPEGs (distinct content, in folders of 500)
in a temporary folder, records each in a fresh state database through the daemon's
own :class:`~scened.daemon.state.StateDB` with its real stat signature, the bundled
model's id and the default policy (as a previous run would have left them), then
times an unchanged rescan:

* **in process**: ``run_library`` (scan, state look-ups, pipeline, prune, run record)
  with the bundled model already loaded, as the daemon runs a scheduled scan;
* **subprocess**: ``scened run --once`` end to end (interpreter start, model load).

Both must report the whole library unchanged and nothing classified.  Target: the
rescan <= 2 s.  The subprocess's peak memory is printed too: a scan holds one folder's
entries and one page of the state's records (:mod:`scened.daemon.snapshot`), so it
should not grow with ``--files`` (compare ``--quick``).

    .venv/bin/python bench/rescan.py            # 100,000 files
    .venv/bin/python bench/rescan.py --quick    # 20,000 files
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from scened.config import parse_config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import PhotoRecord, StateDB
from scened.model.runtime import Classifier, load_classifier
from scened.plugins import get_plugin_manager

SCENED = str(Path(sys.executable).with_name("scened"))
PEAK = "scened peak RSS KiB: "
#: Runs scened in a process forked from a small one and prints its peak memory: a
#: process started straight from this one (vfork, then exec) would be charged this
#: process's own peak (Linux keeps the larger of the two across exec).
LAUNCHER = f"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\n{PEAK}%d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""
PER_FOLDER = 500


class CountingClassifier:
    """The bundled model, counting the images it is asked to classify."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.classes = inner.classes
        self.model_id = inner.model_id
        self.input_size = inner.input_size
        self.images = 0

    def predict(self, batch):  # type: ignore[no-untyped-def]
        self.images += len(batch)
        return self.inner.predict(batch)


def tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 140, 200)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def make_files(root: Path, count: int) -> list[Path]:
    """``count`` valid JPEGs with distinct bytes (a counter appended after EOI)."""
    base = tiny_jpeg()
    paths = []
    for i in range(count):
        folder = root / f"{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        path = folder / f"IMG_{i:06d}.jpg"
        path.write_bytes(base + i.to_bytes(4, "big"))
        paths.append(path)
    return paths


def populate(state_dir: Path, library: str, policy: str, model_id: str, paths: list[Path]) -> None:
    """Record every file as tagged by ``model_id``, with its current stat signature."""
    db = StateDB.open(state_dir)
    db._connection().execute("PRAGMA synchronous=OFF")  # only to fill it quickly
    for i, path in enumerate(paths):
        st = path.stat()
        db.record(PhotoRecord(
            library=library, path=path, device=st.st_dev, inode=st.st_ino, size=st.st_size,
            mtime_ns=st.st_mtime_ns, content_hash=f"{i:040x}", model_id=model_id,
            policy=policy, probabilities=(0.95,) + (0.05 / 35,) * 35, tags=("Animals",),
            outcome="tagged",
        ))  # fmt: skip
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 files")
    parser.add_argument("--repeat", type=int, default=3, help="in-process rescans")
    args = parser.parse_args()
    if args.quick:
        args.files = 20_000
    with tempfile.TemporaryDirectory(prefix="scened-rescan-") as folder:
        work = Path(folder)
        root = work / "library"
        started = time.perf_counter()
        paths = make_files(root, args.files)
        made = time.perf_counter()
        # the ad-hoc library that `scened run --once ROOT` makes (its name is the path),
        # so that the in-process runs and the subprocess share the same state rows
        config = parse_config({"state_dir": str(work / "state" / "scened")}, None)
        library = config.library_for(root)
        classifier = CountingClassifier(load_classifier())
        populate(config.state_dir, library.name, library.policy_key, classifier.model_id, paths)
        recorded = time.perf_counter()
        os.sync()  # a rescan meets a library at rest, not one the kernel is still writing back
        print(
            f"{args.files:,} JPEGs in {args.files // PER_FOLDER} folders made in "
            f"{made - started:.0f} s, recorded in the state in {recorded - made:.0f} s, "
            f"synced in {time.perf_counter() - recorded:.0f} s"
        )
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        pm = get_plugin_manager()
        settings = settings_for(config, dry_run=False)
        for attempt in range(1, args.repeat + 1):
            start = time.perf_counter()
            summary = run_library(library, config=config, classifier=classifier, pm=pm,
                                  settings=settings)  # fmt: skip
            elapsed = time.perf_counter() - start
            print(f"rescan in process #{attempt}: {elapsed:5.2f} s  "
                  f"({args.files / elapsed:,.0f} files/s, target <= 2 s)")  # fmt: skip
            print(f"    {summary.line()}; images classified: {classifier.images}")
            if summary.unchanged != args.files or classifier.images or summary.classified:
                raise SystemExit("the rescan was not a no-op")
        env = {**os.environ, "XDG_STATE_HOME": str(work / "state"),
               "XDG_CONFIG_HOME": str(work / "config")}  # fmt: skip
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", LAUNCHER, SCENED, "run", "--once",
                                 str(root)], env=env, capture_output=True, text=True,
                                check=False)  # fmt: skip
        elapsed = time.perf_counter() - start
        peak_kib = int(result.stderr.rsplit(PEAK, 1)[-1]) if PEAK in result.stderr else 0
        line = next((ln for ln in result.stdout.splitlines() if " found, " in ln), result.stdout)
        print(f"scened run --once (subprocess, incl. start-up and model load): {elapsed:5.2f} s, "
              f"peak RSS {peak_kib / 1024:.0f} MiB")  # fmt: skip
        print(f"    {line.strip()} (exit {result.returncode})")
        if result.returncode != 0 or f"{args.files} unchanged" not in line:
            raise SystemExit(f"unexpected result:\n{result.stdout}\n{result.stderr}")


if __name__ == "__main__":
    main()
