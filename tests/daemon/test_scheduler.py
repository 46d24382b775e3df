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


def _config(path: Path, tmp_path: Path, libraries: str) -> Path:
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n{libraries}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("new_file", "reason"),
    [
        (b'state_dir = "/tmp/x"\n', "no [[libraries]] to scan"),
        ('[[libraries]]\npath = "/srv/Fotos/Été"\n'.encode("latin-1"), "not UTF-8 text"),
        (b"[[libraries]\n", "not valid TOML"),
    ],
    ids=["no-libraries", "latin-1", "broken-toml"],
)
def test_a_bad_reload_keeps_the_old_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, new_file: bytes, reason: str
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    config = _config(tmp_path / "config.toml", tmp_path,
                     f'[[libraries]]\nname = "home"\npath = "{photos}"\n')  # fmt: skip
    daemon = Daemon(config, classifier_factory=lambda _: object(),  # type: ignore[arg-type,return-value]
                    notifier=Notifier(address=""))  # fmt: skip
    before = daemon.config
    config.write_bytes(new_file)

    daemon.reload_config()

    assert daemon.config is before
    assert "configuration not reloaded, the old one is kept" in caplog.text
    assert reason in caplog.text


def test_a_reload_whose_model_fails_to_load_keeps_the_old_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    library = f'[[libraries]]\nname = "home"\npath = "{photos}"\n'
    config = _config(tmp_path / "config.toml", tmp_path, library)
    loads: list[object] = []

    def factory(_: object) -> object:
        if loads:
            raise RuntimeError("a third-party model crashed while loading")
        loads.append(object())
        return loads[0]

    daemon = Daemon(config, classifier_factory=factory,  # type: ignore[arg-type]
                    notifier=Notifier(address=""))  # fmt: skip
    _config(config, tmp_path, f"[model]\nbatch_size = 4\n{library}")
    daemon.reload_config()
    assert daemon.classifier is loads[0] and daemon.config.model.batch_size == 8  # the old one
    assert "RuntimeError: a third-party model crashed" in caplog.text


def test_the_daemon_says_what_it_watches_and_when_each_library_is_next_scanned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import socket

    photos = tmp_path / "photos"
    photos.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[[libraries]]\nname = "home"\npath = "{photos}"\n'
        'schedule = {cron = "30 3 * * *"}\n',
        encoding="utf-8",
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(10)
        daemon = Daemon(config, classifier_factory=lambda _: object(),  # type: ignore[arg-type,return-value]
                        notifier=Notifier(str(tmp_path / "notify")))  # fmt: skip
        daemon._schedule_all(first=True)
        daemon.scheduler.start()
        caplog.set_level(logging.INFO, logger="scened.daemon.progress")  # its default reporter
        try:
            daemon._say_what_is_watched()
            status = sock.recv(4096).decode()
        finally:
            daemon.scheduler.shutdown(wait=True)

    assert status.startswith("STATUS=idle; next scan home ") and status.endswith(" 03:30")
    assert f"home: {photos}, next scan " in caplog.text and " 03:30" in caplog.text
