"""SIGKILL at random moments, 20 times in a row, then a run that finishes the job.

Each of the 20 runs is given a different tag policy (new keywords for every photo), so
that every run has the whole library to re-tag and the kill falls among writes, not on
a library already done.
After each kill: every photo is byte-identical to what it was, or has the same pixels
with metadata exiftool reads; scened's temporary copies (hidden files) are not counted
as photos by the next run; the state database passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from scened.classes import CLASSES

from .torture_helpers import (
    SAFETY_TIMEOUT_S,
    SCENED,
    exif_keywords,
    pixels,
    real_image,
    run_scened,
    save,
    scened_env,
    sha256,
)

KILLS = 20
PHOTOS = 50
SEED = 20240601


def make_library(root: Path) -> list[Path]:
    photos = []
    for i in range(PHOTOS):
        image = real_image(i, (1024, 768))
        if i % 10 == 9:
            photos.append(save(image, root / f"scan_{i:02d}.png"))
        elif i % 10 == 8:
            photos.append(save(image, root / "tiff" / f"scan_{i:02d}.tif"))
        else:
            photos.append(save(image, root / f"album {i // 20}" / f"IMG_{i:04d}.jpg", quality=90))
    return photos


def write_config(path: Path, library: Path, state: Path, policy: str) -> None:
    path.write_text(
        f'state_dir = "{state}"\n[[libraries]]\nname = "lib"\npath = "{library}"\n'
        f'policy = {policy}\nsinks = [{{type = "xmp"}}]\n',
        encoding="utf-8",
    )


def kill_at_random(config: Path, home: Path, delay: float) -> int | None:
    """Start a run, SIGKILL it after ``delay`` s; its exit code if it ended before."""
    env = scened_env(home, SCENED_CONFIG=str(config))
    process = subprocess.Popen([SCENED, "run", "--once"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        return process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=SAFETY_TIMEOUT_S)
        return None


def check_photos(photos: list[Path], original: dict[Path, tuple[str, bytes]]) -> int:
    """Every photo intact (bytes, or pixels + readable metadata); how many were changed."""
    changed = [p for p in photos if sha256(p) != original[p][0]]
    for path in changed:
        assert pixels(path) == original[path][1], f"{path.name}: pixels damaged"
    exif_keywords(changed)  # exiftool reads every rewritten file without an error
    return len(changed)


def check_state(database: Path) -> None:
    if not database.exists():
        return  # killed before the database was created
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("SELECT COUNT(*) FROM photos").fetchone()
    finally:
        conn.close()


def renaming_policy(suffix: str) -> str:
    """A policy that tags every photo with its top class renamed ``<class> <suffix>``:
    each run has a new policy (so it re-tags everything) and new keywords to write."""
    rename = ", ".join(f'"{name}" = "{name} {suffix}"' for name in CLASSES)
    return f'{{type = "threshold", min_probability = 0.0, top_k = 1, rename = {{{rename}}}}}'


@pytest.mark.slow
def test_sigkill_at_random_moments_never_damages_a_photo(tmp_path: Path) -> None:
    library, home = tmp_path / "library", tmp_path / "home"
    state, config = tmp_path / "state", tmp_path / "config.toml"
    photos = make_library(library)
    original = {p: (sha256(p), pixels(p)) for p in photos}
    # how long a whole re-tag takes on this machine (start-up, model, every write), so
    # that the kills fall anywhere from start-up to the last writes however fast it is
    write_config(config, library, state, renaming_policy("calibration"))
    started = time.monotonic()
    assert kill_at_random(config, home, SAFETY_TIMEOUT_S) == 0
    whole_run = time.monotonic() - started
    check_photos(photos, original)
    rng = random.Random(SEED)
    killed = attempt = 0
    while killed < KILLS and attempt < 4 * KILLS:  # a run may end before its kill
        attempt += 1
        write_config(config, library, state, renaming_policy(f"run {attempt}"))
        started = time.monotonic()
        if kill_at_random(config, home, rng.uniform(0.1, 1.0) * whole_run) is None:
            killed += 1
        else:  # the machine got faster: aim the next kills within the shorter run
            whole_run = time.monotonic() - started
        check_photos(photos, original)
        check_state(state / "state.sqlite3")
    assert killed == KILLS, f"only {killed} of {attempt} runs could be killed"

    write_config(config, library, state, '{type = "default"}')
    result = run_scened(library, home, extra_env={"SCENED_CONFIG": str(config)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{PHOTOS} found" in result.summary(), "temporary copies counted as photos?"
    assert check_photos(photos, original) == PHOTOS
    keywords = exif_keywords(photos)
    assert all(keywords[p] for p in photos), "a photo was left without keywords"
    check_state(state / "state.sqlite3")
