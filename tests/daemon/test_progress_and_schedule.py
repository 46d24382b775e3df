"""Progress output (the CLI's bar at a terminal, quiet log lines under systemd) and triggers."""

from __future__ import annotations

import io
import logging
import socket
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scened.cli.report import BarProgress, make_progress
from scened.config import parse_config
from scened.daemon import progress as progress_module
from scened.daemon.notify import Notifier
from scened.daemon.progress import LogProgress
from scened.daemon.scheduler import trigger_for


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_pipe_gets_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", FakeTerminal())
    bar = make_progress("lib")
    assert isinstance(bar, BarProgress)
    bar.close()

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(make_progress("lib"), LogProgress)


def test_bar_shows_a_total_counts_and_no_failure_line() -> None:
    """Failures are listed once, by the summary, not by the bar as well."""
    terminal = FakeTerminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", terminal)
        bar = BarProgress("lib")
        bar.expect(8)
        bar.photo("tagged", Path("a.jpg"), tags=("Beach",))
        bar.photo("failed", Path("b.jpg"), "not an image file")
        bar.unchanged(2)  # a rescan's group, without paths
        bar.close()
    shown = terminal.getvalue().replace(" ", "")
    assert "4/8" in shown and "50%" in shown and "failed=1" in shown
    assert "b.jpg" not in shown and "a.jpg" not in shown  # no -v: no photo listed


def test_bar_lists_each_photo_with_its_tags_with_v(caplog: pytest.LogCaptureFixture) -> None:
    terminal = FakeTerminal()
    caplog.set_level(logging.INFO, logger="scened.cli.report")  # what -v sets
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", terminal)
        bar = BarProgress("lib")
        bar.photo("tagged", Path("a.jpg"), tags=("Beach", "Sky"))
        bar.photo("tagged", Path("b.jpg"))
        bar.close()
    shown = terminal.getvalue()
    assert "a.jpg: Beach, Sky" in shown and "b.jpg: (no confident tag)" in shown


def test_log_progress_is_quiet_and_updates_systemd_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(10)
        monkeypatch.setattr(progress_module, "STATUS_EVERY_S", 0.0)
        caplog.set_level(logging.INFO, logger="scened.daemon.progress")
        log_progress = LogProgress("lib", Notifier(str(tmp_path / "notify")))

        log_progress.photo("unchanged", Path("a.jpg"))
        log_progress.photo("failed", Path("b.jpg"), "cannot read: Permission denied")
        log_progress.unchanged(256)  # a rescan's group, without paths
        log_progress.close()

        statuses = [sock.recv(4096).decode() for _ in range(4)]
    assert statuses[1] == "STATUS=lib: 2 checked, 0 tagged, 1 failed"
    assert statuses[2] == "STATUS=lib: 258 checked, 0 tagged, 1 failed"
    assert statuses[3] == "STATUS=idle; last scan lib: 258 checked, 0 tagged, 1 failed"
    # no line per photo in the journal; the failure is listed once, by the summary
    assert [r.getMessage() for r in caplog.records] == []


def test_triggers_from_the_schedule_table() -> None:
    config = parse_config(
        {"libraries": [{"path": "/a", "name": "a", "schedule": {"interval": 90}},
                       {"path": "/b", "name": "b", "schedule": {"cron": "30 3 * * 1-5"}}]},
        None,
    )  # fmt: skip
    interval, cron = (trigger_for(library) for library in config.libraries)
    assert isinstance(interval, IntervalTrigger) and interval.interval.total_seconds() == 90
    assert isinstance(cron, CronTrigger)
    assert str(cron.fields[cron.FIELD_NAMES.index("hour")]) == "3"
    assert str(cron.fields[cron.FIELD_NAMES.index("day_of_week")]) == "1-5"
