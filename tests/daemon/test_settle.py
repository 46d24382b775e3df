"""A photo still being written is never read: it is waited for, or left for the next scan.

The clock and the sleep of :mod:`scened.daemon.settle` are driven by the test, so the
writer's progress is deterministic: no sleep that usually wins.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from scened.daemon import settle
from scened.daemon.jobs import RunSummary
from scened.daemon.service import run_library, settings_for
from scened.plugins import ScenedPluginManager

from .daemon_helpers import ColourClassifier, ConfigFactory, RecorderPlugin, make_photo


class FakeTime:
    """A clock that starts ``offset`` seconds after the files' real times and moves only
    when scened sleeps; each sleep lets the writer go on (``on_sleep``)."""

    def __init__(self, offset: float) -> None:
        self.value = time.time() + offset
        self.sleeps: list[float] = []
        self.on_sleep: list[Callable[[], None]] = []

    def now(self) -> float:
        return self.value

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.value += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(offset=0.0)
    monkeypatch.setattr(settle, "now", fake.now)
    monkeypatch.setattr(settle, "sleep", fake.sleep)
    return fake


@pytest.fixture
def scan(
    make_config: ConfigFactory, classifier: ColourClassifier, pm: ScenedPluginManager
) -> Callable[..., RunSummary]:
    """One scan as ``run --once`` (``daemon=False``) or the daemon runs it."""

    def run(*, seconds: float, daemon: bool) -> RunSummary:
        config = make_config()
        settings = replace(settings_for(config, dry_run=False, daemon=daemon),
                           settle_seconds=seconds)  # fmt: skip
        return run_library(config.libraries[0], config=config, classifier=classifier,
                           pm=pm, settings=settings)  # fmt: skip

    return run


def test_once_waits_for_a_copy_in_progress_and_tags_it_whole(
    library: Path, scan: Callable[..., RunSummary], recorder: RecorderPlugin, clock: FakeTime
) -> None:
    done = make_photo(library / "old.jpg", "green")
    os.utime(done, (clock.value - 600, clock.value - 600))  # long since written...
    clock.value += 600  # ...and its ctime too, as far as scened's clock can tell
    whole = make_photo(library / "tmp-whole.jpg", "red").read_bytes()
    copying = library / "copying.jpg"
    copying.write_bytes(whole[: len(whole) // 2] + bytes(len(whole) - len(whole) // 2))

    def finish_copy() -> None:  # the writer fills in the zero tail while scened waits
        copying.write_bytes(whole)
        clock.value = time.time()  # it changed just now

    (library / "tmp-whole.jpg").unlink()
    clock.value = time.time()  # the copy started a moment ago
    clock.on_sleep.append(finish_copy)
    summary = scan(seconds=3, daemon=False)

    assert summary.ok and summary.tagged == 2 and not summary.skipped
    assert len(clock.sleeps) >= 2  # waited once for the copy, once more after it changed
    written = {path.name for path, _, _ in recorder.writes}
    assert written == {"old.jpg", "copying.jpg"}
    assert copying.read_bytes() == whole  # read and tagged only once complete


def test_the_daemon_leaves_an_unsettled_photo_for_its_next_scan(
    library: Path, scan: Callable[..., RunSummary], recorder: RecorderPlugin, clock: FakeTime
) -> None:
    fresh = make_photo(library / "upload.jpg", "blue")
    clock.value = time.time()

    first = scan(seconds=60, daemon=True)

    assert first.ok and first.tagged == 0 and clock.sleeps == []
    assert first.skipped == [
        (fresh, "still being written (changed in the last 60 s); left for the next scan")
    ]
    assert first.failed == 0 and recorder.writes == []

    clock.value += 61  # the next scan, a minute later
    second = scan(seconds=60, daemon=True)
    assert second.tagged == 1 and not second.skipped


def test_a_photo_that_never_settles_is_left_not_failed(
    library: Path, scan: Callable[..., RunSummary], clock: FakeTime
) -> None:
    growing = make_photo(library / "timelapse.jpg", "red")

    def keep_writing() -> None:  # a writer that never stops (a time-lapse, a stuck copy)
        with growing.open("ab") as handle:
            handle.write(b"\0" * 100)
        os.utime(growing, (clock.value, clock.value))  # it changed at this (fake) instant

    clock.value = time.time()
    clock.on_sleep.extend([keep_writing] * 100)
    summary = scan(seconds=2, daemon=False)
    assert summary.ok and summary.tagged == 0
    assert [path for path, _ in summary.skipped] == [growing]
    assert sum(clock.sleeps) <= 2 * settle.WAIT_FACTOR + 2  # gave up after a bounded wait


def test_settle_defaults_by_mode(make_config: ConfigFactory) -> None:
    config = make_config()
    assert settings_for(config, dry_run=False, daemon=True).settle_seconds == 60
    assert not settings_for(config, dry_run=False, daemon=True).wait_to_settle
    once = settings_for(config, dry_run=False)  # pytest's stderr is not a terminal
    assert (once.settle_seconds, once.wait_to_settle) == (0, True)
