"""How long a review page takes on a library of 100,000 photos (36 classes).

Run: ``.venv/bin/python -m tests.review.bench_ordering [PHOTOS]``.  Builds a state
database in a temporary folder (rows as ``StateDB.record`` writes them, one photo
in 50 without probabilities), then times :func:`scened.review.queries.review_page`
for the first, a middle and the last page, best of three.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from scened.daemon.state import StateDB
from scened.review.queries import PAGE_SIZE, review_page

CLASSES = 36


def fill(db: StateDB, photos: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(photos):
        logits = [rng.gauss(0, 2) for _ in range(CLASSES)]
        top = max(logits)
        weights = [math.exp(x - top) for x in logits]
        total = sum(weights)
        probabilities = json.dumps([w / total for w in weights]) if i % 50 else None
        rows.append((os.fsencode(f"/photos/{i // 1000:03d}/{i:06d}.jpg"), "lib", 1, i, 4_000_000,
                     i, None, "scenes", "precision", probabilities, '["Beach"]', "tagged",
                     None, "2026-01-01T00:00:00+00:00", None))  # fmt: skip
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO photos (path, library, device, inode, size, mtime_ns, content_hash, "
            "model_id, policy, probabilities, tags, outcome, error, updated_at, pixel_digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def main() -> None:
    photos = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        db = StateDB.open(Path(folder))
        fill(db, photos)
        last = math.ceil(photos / PAGE_SIZE)
        for number in (1, last // 2, last):
            timings = []
            for _ in range(3):
                start = time.perf_counter()
                page = review_page(db, "lib", number)
                timings.append(time.perf_counter() - start)
            best = min(timings) * 1000
            print(f"{photos:,} photos, page {number:,} of {page.pages:,}: {best:.0f} ms "
                  f"(best of 3; {len(page.photos)} photos)")  # fmt: skip
        db.close()


if __name__ == "__main__":
    main()
