"""The unit files pass `systemd-analyze verify` with no warning at all, and scened does
what scened.service's settings expect of it."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scened.daemon.state import DB_NAME

from ..metadata.photo_oracle import keyword_fields
from .daemon_helpers import make_photo

UNITS = Path(__file__).resolve().parents[2] / "systemd"
NAMES = ("scened.service", "scened-once.service", "scened-once.timer")
#: Where README.md's NAS recipe installs scened (a virtualenv in /opt/scened).
INSTALLED = "/opt/scened/bin/scened"
DEADLINE_S = 90  # bounds a wait, never asserted as a speed


@pytest.fixture
def installed_units(tmp_path: Path) -> list[Path]:
    """Copies whose ExecStart points at this virtualenv's scened (verify checks it exists)."""
    scened = Path(sys.executable).with_name("scened")
    assert scened.is_file(), "the scened console script is not installed (pip install -e .)"
    copies = []
    for name in NAMES:
        text = (UNITS / name).read_text(encoding="utf-8")
        copy = tmp_path / name
        copy.write_text(text.replace(INSTALLED, str(scened)), encoding="utf-8")
        copies.append(copy)
    return copies


def test_units_verify_without_warnings(installed_units: list[Path]) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (apt install systemd)"

    result = subprocess.run(
        [analyze, "verify", *map(str, installed_units)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def unit_settings(name: str) -> dict[str, str]:
    """``Key=value`` of a unit file (comments and section headers left out)."""
    text = (UNITS / name).read_text(encoding="utf-8")
    pairs = (line.partition("=") for line in text.splitlines())
    return {key: value for key, _, value in pairs if value and not key.startswith(("#", "["))}


def timespan_s(value: str) -> float:
    """A systemd time span (``10min``, ``60s``) in seconds, as systemd itself reads it."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (apt install systemd)"
    out = subprocess.run([analyze, "timespan", value], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    (micro,) = (line.split(":", 1)[1] for line in out.splitlines() if "μs:" in line)
    return int(micro) / 1e6


def notified(sock: socket.socket, key: str, value: str) -> None:
    """Wait for the sd_notify message that sets ``key`` to ``value...``."""
    while True:
        lines = sock.recv(4096).decode("utf-8").splitlines()
        if any(line.startswith(f"{key}={value}") for line in lines):
            return


def session_members(session: int) -> list[int]:
    """The processes left in the session ``session`` (the service's control group here)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_scened_starts_reloads_and_stops_as_its_unit_runs_it(
    tmp_path: Path, colour_model: Path
) -> None:
    """scened.service's ExecStart=, in the environment its settings give (Type=notify:
    $NOTIFY_SOCKET; StateDirectory=: $STATE_DIRECTORY; WatchdogSec=: $WATCHDOG_USEC), with a
    configuration that leaves the state folder to systemd: systemd would see it ready,
    the photo is tagged and the state is in the unit's state folder; ExecReload= reloads
    it; the stop of KillMode=mixed (SIGTERM to scened alone) ends scened and every
    process it started within TimeoutStopSec=, with status 0 (no Restart=on-failure).
    User= and the capabilities run in tests/packaging/test_nas_recipe.py."""
    unit = unit_settings("scened.service")
    assert (unit["Type"], unit["KillMode"]) == ("notify", "mixed")
    photo = make_photo(tmp_path / "photos" / "sunset.jpg", "red")
    config = tmp_path / "config.toml"  # no state_dir, as installed; photos read at once
    config.write_text(f'[model]\npath = "{colour_model}"\n[pipeline]\nsettle_seconds = 0\n'
                      f'[[libraries]]\nname = "family"\npath = "{photo.parent}"\n'
                      "schedule = {interval = 1}\n")  # fmt: skip
    state = tmp_path / "var" / "lib" / unit["StateDirectory"]
    state.mkdir(parents=True)
    scened = str(Path(sys.executable).with_name("scened"))
    installed = {INSTALLED: scened, "/etc/scened/config.toml": str(config)}
    command = [installed.get(word, word) for word in shlex.split(unit["ExecStart"])]
    assert command[:2] == [scened, "run"] and str(config) in command
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(DEADLINE_S)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "STATE_DIRECTORY": str(state),
        "WATCHDOG_USEC": str(round(timespan_s(unit["WatchdogSec"]) * 1e6)),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "PYTHONUNBUFFERED": "1",
    }
    daemon = subprocess.Popen(command, env=env, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        notified(sock, "READY", "1")
        notified(sock, "STATUS", "idle; last scan family")
        assert keyword_fields(photo)["subject"] == ["Sunset"]
        assert (state / DB_NAME).is_file() and not (tmp_path / "xdg-state").exists()

        reload = unit["ExecReload"].replace("$MAINPID", str(daemon.pid))
        subprocess.run(shlex.split(reload), check=True, timeout=DEADLINE_S)
        notified(sock, "RELOADING", "1")
        notified(sock, "READY", "1")
        assert daemon.poll() is None

        stop_by = time.monotonic() + timespan_s(unit["TimeoutStopSec"])
        daemon.send_signal(signal.SIGTERM)  # KillMode=mixed: to the main process only
        out, err = daemon.communicate(timeout=timespan_s(unit["TimeoutStopSec"]))
        while session_members(daemon.pid) and time.monotonic() < stop_by:
            time.sleep(0.1)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
        sock.close()
    assert daemon.returncode == 0, err
    assert session_members(daemon.pid) == [], "a process of scened outlived the stop"
    assert "Traceback" not in err and "1 tagged" in out
