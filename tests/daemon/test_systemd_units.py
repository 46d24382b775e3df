"""The unit files pass `systemd-analyze verify` with no warning at all."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
NAMES = ("scened.service", "scened-once.service", "scened-once.timer")
#: Where README.md's NAS recipe installs scened (a virtualenv in /opt/scened).
INSTALLED = "/opt/scened/bin/scened"


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


def test_service_settings_the_issue_asks_for() -> None:
    service = (UNITS / "scened.service").read_text(encoding="utf-8")
    settings = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in service.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert settings["Type"] == "notify"
    assert settings["StateDirectory"] == "scened"
    assert settings["ProtectSystem"] == "strict"
    assert settings["ProtectHome"] == "read-only"
    assert settings["NoNewPrivileges"] == "yes" and settings["PrivateTmp"] == "yes"
    assert settings["IOSchedulingClass"] == "idle" and settings["Nice"] == "19"
    assert "ReadWritePaths" in settings and "WatchdogSec" in settings
    assert settings["User"] == "scened"
    # The NAS recipe's virtualenv, and the capabilities that let scened keep the owner,
    # ACL and attributes of photos other users own, and lease them.
    assert settings["ExecStart"].startswith(f"{INSTALLED} run ")
    caps = {"CAP_LEASE", "CAP_CHOWN", "CAP_FOWNER"}
    assert set(settings["AmbientCapabilities"].split()) == caps
    assert set(settings["CapabilityBoundingSet"].split()) == caps
    once = (UNITS / "scened-once.service").read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED} run --once " in once
    once_caps = [line.split("=", 1)[1].split() for line in once.splitlines()
                 if line.startswith("AmbientCapabilities=")]  # fmt: skip
    assert [set(c) for c in once_caps] == [caps]
    timer = (UNITS / "scened-once.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer and "Persistent=true" in timer
