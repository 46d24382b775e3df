"""``scened status``: which database it read, which libraries it lists, what is pending.

The colour classifier stands in for the model (tests/cli/conftest.py); the state is
a real SQLite database written by real runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scened.cli import main
from scened.daemon.state import StateDB

from ..daemon import daemon_helpers as helpers

pytestmark = pytest.mark.usefixtures("colour_classifier")


def run_once(*args: str) -> None:
    result = CliRunner().invoke(main, ["run", "--once", *args])
    assert result.exit_code in (0, 1), result.output


def reports(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["status", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "service-state"}"\n{body}', encoding="utf-8")
    return path


def test_status_names_the_database_it_read(pictures: Path, tmp_path: Path) -> None:
    mine = tmp_path / "xdg-state" / "scened" / "state.sqlite3"
    first = CliRunner().invoke(main, ["status"])
    assert first.output.splitlines()[0] == (
        f"state: {mine} (none yet: nothing has run with this state_dir)"
    )
    config = write_config(tmp_path, "")
    run_once("--config", str(config), str(pictures))
    service = tmp_path / "service-state" / "state.sqlite3"

    text = CliRunner().invoke(main, ["status", "--config", str(config)]).output
    (report,) = reports("--config", str(config))

    assert text.splitlines()[0] == f"state: {service}"
    assert f"{pictures} ({pictures})" in text and "tagged 2" in text
    assert report["state"] == str(service) and report["tagged"] == 2
    assert not mine.exists()  # every command given that configuration used its state_dir


def test_a_configured_library_is_listed_once(pictures: Path, tmp_path: Path) -> None:
    run_once(str(pictures))  # before it was configured: an ad-hoc library named by its path
    run_once(str(pictures / "trip"))  # and a folder inside it
    state_dir = tmp_path / "xdg-state" / "scened"
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{state_dir}"\n[[libraries]]\nname = "family"\n'
                      f'path = "{pictures}"\n', encoding="utf-8")  # fmt: skip
    run_once("--config", str(config))

    listed = [r["library"] for r in reports("--config", str(config))]

    assert listed == ["family"]


def test_folders_run_once_that_are_gone_are_listed_only_with_all(
    pictures: Path, tmp_path: Path
) -> None:
    other = tmp_path / "Other"
    helpers.make_photo(other / "sky.jpg", "blue")
    run_once(str(pictures))
    run_once(str(other))
    shutil.rmtree(other)

    assert [r["library"] for r in reports()] == [str(pictures)]
    gone = [r for r in reports("--all") if r["library"] == str(other)]
    assert len(gone) == 1 and str(gone[0]["pending"]).startswith("unknown (")


def test_failed_photos_are_not_pending(pictures: Path) -> None:
    broken = pictures / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    run_once(str(pictures))
    broken.write_bytes(b"\xff\xd8\xff still not a jpeg")  # changed: the run retries it

    (report,) = reports(str(pictures))

    assert (report["known"], report["tagged"], report["failed"]) == (3, 2, 1)
    assert report["pending"] == 0


def test_after_a_policy_change_status_counts_what_the_run_re_tags(
    pictures: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, f'[[libraries]]\npath = "{pictures}"\n')
    run_once("--config", str(config))
    assert reports("--config", str(config))[0]["pending"] == 0
    config.write_text(config.read_text(encoding="utf-8")
                      + 'policy = {type = "threshold", min_probability = 0.3}\n',
                      encoding="utf-8")  # fmt: skip

    (report,) = reports("--config", str(config))
    result = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])

    assert report["pending"] == 2
    assert "2 tagged" in result.output


def test_status_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    """The reader goes away before scened writes: no BrokenPipeError traceback."""
    state_dir = tmp_path / "xdg-state" / "scened"
    state = StateDB.open(state_dir)
    for index in range(50):
        folder = tmp_path / f"folder-{index}"
        folder.mkdir()
        state.start_run(str(folder), "colour-1")
    state.close()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
           "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}  # fmt: skip
    scened = Path(sys.executable).with_name("scened")
    process = subprocess.Popen([str(scened), "status", "--no-scan"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `head` does once it has its lines
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert stderr == ""


def test_a_database_this_user_cannot_read_is_an_error_not_an_empty_state() -> None:
    """As another user than the one that wrote it (here `nobody`, dropped to from root;
    as a plain user, a database in a folder it cannot write), SQLite cannot open a WAL
    database: status says so instead of showing nothing known."""
    import os
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="scened-status-", dir="/tmp"))  # nobody can reach it
    try:
        base.chmod(0o755)
        StateDB.open(base / "state").close()
        (base / "state").chmod(0o555)
        config = base / "c.toml"
        config.write_text(f'state_dir = "{base / "state"}"\n', encoding="utf-8")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*(prefix if os.geteuid() == 0 else []), sys.executable, "-m", "scened",
             "status", "--no-scan", "--config", str(config)],
            capture_output=True, text=True, check=False, env={"HOME": str(base)},
        )  # fmt: skip
    finally:
        (base / "state").chmod(0o755)
        shutil.rmtree(base)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {base / 'state' / 'state.sqlite3'}: cannot be read")
