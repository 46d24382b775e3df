"""Re-scoring a whole library with a new personal model, from stored features only.

After ``scened learn``, the next run must not decode 100,000 photos again: each
photo's bundled-model probabilities and 8-bit features are in the state, and the
personal head re-scores them.  This makes ``--files`` small real JPEGs recorded as
tagged by the bundled model, with features (random, as a library's would be) for each,
saves a personal head (fitted to random labels, so that some tags change and most do
not), and times:

* **baseline**: an unchanged rescan of the same library (the no-op, in the same run);
* **re-score**: the run with the personal model (every photo re-scored; the photos
  whose tags change are written, the rest only re-recorded).

Prints the times, photos/s and the ratio to the baseline; nothing may be decoded.

    .venv/bin/python bench/rescore.py              # 100,000 files
    .venv/bin/python bench/rescore.py --files 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from rescan import CountingClassifier, make_files, populate

from scened.config import parse_config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import StateDB
from scened.learning.head import LabelRows, basis, fit
from scened.learning.personal import save_head
from scened.learning.store import put_features
from scened.model.runtime import load_classifier
from scened.plugins import get_plugin_manager


class CountingFeatures(CountingClassifier):
    """The bundled model with its feature methods, counting images it is asked for."""

    @property
    def base_model_id(self) -> str:
        return self.model_id

    def predict_features(self, batch):  # type: ignore[no-untyped-def]
        self.images += len(batch)
        return self.inner.predict_features(batch)  # type: ignore[attr-defined]

    def rescore(self, probabilities, features):  # type: ignore[no-untyped-def]
        return probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="scened-rescore-") as folder:
        work = Path(folder)
        root = work / "library"
        paths = make_files(root, args.files)
        config = parse_config({"state_dir": str(work / "state")}, None)
        library = config.library_for(root)
        classifier = CountingFeatures(load_classifier())
        populate(config.state_dir, library.name, library.policy_key, classifier.model_id, paths)
        features = rng.normal(0, 3, (args.files, 1000)).astype(np.float32)
        probs = np.full((args.files, 36), 0.05 / 35, np.float32)
        probs[:, 0] = 0.95
        db = StateDB.open(config.state_dir)
        for start in range(0, args.files, 10_000):
            end = start + 10_000
            put_features(db, [(paths[i], classifier.model_id, probs[i], features[i])
                              for i in range(start, min(end, args.files))])  # fmt: skip
        db.close()
        mean, components = basis(features[:5000])
        n = 200
        rows = LabelRows(probs[:n], features[:n], np.arange(n), rng.integers(0, 36, n),
                         np.ones(n, bool))  # fmt: skip
        head = fit(rows, mean, components, 3.0, base_model_id=classifier.model_id,
                   classes=classifier.classes)  # fmt: skip
        save_head(config.state_dir, library.name, head)
        pm = get_plugin_manager()
        settings = settings_for(config, dry_run=False)
        print(f"{args.files:,} photos with stored features; a personal head saved")

        # baseline: the bundled model's no-op rescan (the head moved aside meanwhile)
        head_file = config.state_dir / "personal"
        head_file.rename(work / "personal")
        start = time.perf_counter()
        summary = run_library(library, config=config, classifier=classifier, pm=pm,
                              settings=settings)  # fmt: skip
        baseline = time.perf_counter() - start
        print(f"baseline (unchanged rescan): {baseline:6.2f} s   {summary.line()}")
        (work / "personal").rename(head_file)

        start = time.perf_counter()
        summary = run_library(library, config=config, classifier=classifier, pm=pm,
                              settings=settings)  # fmt: skip
        elapsed = time.perf_counter() - start
        print(f"re-score with the personal model: {elapsed:6.2f} s "
              f"({args.files / elapsed:,.0f} photos/s, {elapsed / baseline:.1f}x the no-op "
              f"rescan); images decoded and classified: {classifier.images}")  # fmt: skip
        print(f"    {summary.line()}")
        if classifier.images or summary.classified:
            raise SystemExit("photos were decoded: the features were not used")


if __name__ == "__main__":
    main()
