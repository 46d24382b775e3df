"""End-to-end speed of each model: ``scened run --once`` on 12 MP JPEGs, per model folder.

The issue that chose the default model asks for the most accurate model whose whole
pipeline (start-up, scan, decode at the model's input size, inference, keyword
writes, state) stays at least 0.8 of the baseline's images/s.  This runs the same
library, freshly copied for each run, for every model in turn, twice (interleaved,
so a machine that gets busier or quieter affects all models alike), and prints the
mean images/s and the ratio to the baseline (the first model) measured in the same
run; the single runs are shown too.  Every photo gets its top class written (a
``threshold`` policy with ``min_probability = 0``), so all models write the same
number of keywords.

    .venv/bin/python bench/models.py                       # the bundled models
    .venv/bin/python bench/models.py --model OLD --model NEW --jpegs 120
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _library import DEFAULT_GRAIN, build_library

from scened.model.runtime import BUNDLED_ROOT

SCENED = str(Path(sys.executable).with_name("scened"))


def run_once(library: Path, model: Path, work: Path) -> float:
    """Images/s of ``scened run --once`` with ``model`` on a fresh copy of ``library``."""
    copy = work / "photos"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.rmtree(work / "state", ignore_errors=True)
    shutil.copytree(library, copy)
    config = work / "config" / "scened" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"[model]\npath = {json.dumps(str(model))}\n\n[[libraries]]\n"
        f'path = {json.dumps(str(copy))}\nname = "bench"\n'
        'policy = {type = "threshold", min_probability = 0.0, top_k = 1}\n',
        encoding="utf-8",
    )
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state"),
           "XDG_CONFIG_HOME": str(work / "config")}  # fmt: skip
    photos = sum(1 for p in copy.rglob("*") if p.is_file())
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    result = subprocess.run([SCENED, "run", "--once", str(copy)], env=env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or f"{photos} tagged" not in result.stdout:
        raise SystemExit(f"scened run failed with {model}:\n{result.stdout}{result.stderr}")
    return photos / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path,
                        help="model folder (repeat; the first is the baseline)")  # fmt: skip
    parser.add_argument("--jpegs", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each model, interleaved")
    args = parser.parse_args()
    models = args.model or sorted(p for p in BUNDLED_ROOT.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="scened-bench-models-") as folder:
        work = Path(folder)
        library = build_library(work / "library", jpegs=args.jpegs, pngs=0, grain=DEFAULT_GRAIN)
        print(f"library: {len(library.jpegs)} JPEGs 4000x3000, grain {DEFAULT_GRAIN}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        rates: dict[Path, list[float]] = {model: [] for model in models}
        for _ in range(args.rounds):  # interleaved, so a change of load hits every model
            for model in models:
                rates[model].append(run_once(library.root, model, work))
        baseline = sum(rates[models[0]]) / len(rates[models[0]])
        for model in models:
            rate = sum(rates[model]) / len(rates[model])
            runs = ", ".join(f"{r:.1f}" for r in rates[model])
            print(f"{model.name:<28} {rate:6.1f} images/s  {rate / baseline:5.2f} of baseline"
                  f"  (runs: {runs})")  # fmt: skip
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
