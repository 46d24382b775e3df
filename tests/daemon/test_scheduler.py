"""The daemon's scheduler: a library is never scanned twice at once; missed runs coalesce."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from scened.daemon.jobs import RunSummary
from scened.daemon.notify import Notifier
from scened.daemon.scheduler import Daemon


class SlowScans:
    """Stands in for ``Daemon.scan``: each scan outlasts the 1-second interval."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.most_at_once = 0
        self.started: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, name: str) -> RunSummary:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.started.append(name)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return RunSummary(name)


@pytest.mark.slow
def test_a_library_is_never_scanned_twice_at_once(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[[libraries]]\nname = "home"\npath = "{photos}"\nschedule = {{interval = 1}}\n',
        encoding="utf-8",
    )
    daemon = Daemon(config, classifier_factory=lambda _: object(),  # type: ignore[arg-type,return-value]
                    notifier=Notifier(address=""))  # fmt: skip
    scans = SlowScans(seconds=2.6)
    daemon.scan = scans  # type: ignore[method-assign]
    daemon._schedule_all(first=True)
    daemon.scheduler.start()
    try:
        time.sleep(5.5)  # five interval ticks while two long scans run back to back
    finally:
        daemon.scheduler.shutdown(wait=True)

    assert scans.most_at_once == 1
    # the ticks that fell during a scan were skipped or coalesced, not queued up
    assert scans.started == ["home"] * len(scans.started)
    assert 2 <= len(scans.started) <= 3
