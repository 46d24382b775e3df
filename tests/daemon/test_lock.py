"""Two scened processes never scan one library at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scened.daemon.lock import LibraryBusyError, library_lock

from .daemon_helpers import ColourClassifier, ConfigFactory, Runner, make_photo


def test_a_second_scan_of_a_busy_library_is_one_line_and_touches_nothing(
    library: Path, run_once: Runner, make_config: ConfigFactory, classifier: ColourClassifier
) -> None:
    photo = make_photo(library / "a.jpg", "red")
    before = photo.read_bytes()
    config = make_config()
    with library_lock(config.state_dir, f"lib\0{library.resolve()}"):
        summary = run_once()
    assert summary.error == (
        f"already being scanned by another scened process (pid {os.getpid()}); "
        "this run leaves it alone"
    )
    assert summary.found == 0 and classifier.images_seen == 0
    assert photo.read_bytes() == before
    assert run_once().tagged >= 1  # the lock went with its holder


def test_a_dry_run_needs_no_lock(
    library: Path, run_once: Runner, make_config: ConfigFactory
) -> None:
    make_photo(library / "a.jpg", "red")
    with library_lock(make_config().state_dir, f"lib\0{library.resolve()}"):
        assert run_once(dry_run=True).ok


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from scened.daemon.lock import library_lock\n"
         "with library_lock(Path(sys.argv[1]), 'lib'):\n"
         "    print('held', flush=True); time.sleep(600)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LibraryBusyError, match=f"pid {holder.pid}"), library_lock(tmp_path, "lib"):
        pass
    holder.kill()
    holder.wait()
    with library_lock(tmp_path, "lib"):  # a killed holder leaves no stale lock
        pass
