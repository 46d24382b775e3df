"""Ctrl-C during ``scened run --once``: the photos in hand are finished and recorded."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCENED = str(Path(sys.executable).with_name("scened"))
PHOTOS = 30
DEADLINE_S = 120  # a safety net against a hang, not a timing assertion


def _tagged_count(state_db: Path) -> int:
    if not state_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{state_db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM photos").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_ctrl_c_finishes_the_photos_in_hand_and_the_next_run_completes(
    tmp_path: Path, colour_model: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    rng = np.random.default_rng(3)
    for i in range(PHOTOS):  # large noisy PNGs: slow enough to decode that Ctrl-C lands mid-run
        pixels = rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
        pixels[..., i % 3] = 255
        Image.fromarray(pixels).save(library / f"photo-{i:02}.png", compress_level=1)
    (tmp_path / "config.toml").write_text(
        f'state_dir = "{tmp_path / "state"}"\n[model]\npath = "{colour_model}"\nbatch_size = 2\n',
        encoding="utf-8",
    )
    env = {**os.environ, "SCENED_CONFIG": str(tmp_path / "config.toml")}
    state_db = tmp_path / "state" / "state.sqlite3"
    run = subprocess.Popen(
        [SCENED, "run", "--once", str(library)], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + DEADLINE_S
    while _tagged_count(state_db) == 0 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=DEADLINE_S)

    assert run.returncode == 130, (out, err)
    assert "stopping after the photos in hand" in err
    assert "Traceback" not in err
    first = _tagged_count(state_db)
    assert 0 < first < PHOTOS
    assert f"{library}" in out and "0 failed" in out  # the summary of what was done

    again = subprocess.run(
        [SCENED, "run", "--once", str(library)], env=env, text=True, capture_output=True,
        timeout=DEADLINE_S, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _tagged_count(state_db) == PHOTOS
    assert f"{first} unchanged" in again.stdout
