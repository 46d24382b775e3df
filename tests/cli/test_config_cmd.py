"""`scened config check` and `scened config show` as a user runs them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from scened.cli import main

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_user_config")


def test_check_accepts_the_example_but_for_its_folders_that_are_not_here() -> None:
    example = REPO / "config" / "scened.example.toml"
    result = CliRunner().invoke(main, ["config", "check", "--config", str(example)])
    assert result.exit_code == 78
    assert result.output.splitlines() == [
        f"Error: {example}: library 1 (family): path: /srv/photos/family does not exist "
        "(a share not mounted yet?)",
        f"Error: {example}: library 2 (archive): path: /srv/photos/archive does not exist "
        "(a share not mounted yet?)",
    ]


def test_check_says_ok_for_folders_that_are_there(tmp_path: Path) -> None:
    (tmp_path / "family").mkdir()
    path = tmp_path / "ok.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[[libraries]]\n'
                    f'path = "{tmp_path / "family"}"\nschedule = {{cron = "@daily"}}\n',
                    encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{path}: OK, 1 libraries\n"


def test_check_reports_one_line_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[libraries]]\npath = "/x"\nschedule = {interval = -5}\n', encoding="utf-8")

    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    assert result.exit_code == 78
    assert result.output.strip().splitlines() == [
        f"Error: {path}: library 1 (x): schedule.interval: -5 is less than the minimum of 1"
    ]


def test_check_builds_sinks_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[libraries]]\npath = "/x"\nsinks = [{type = "xmp"}, {type = "ftp"}]\n'
                    '[[libraries]]\npath = "/y"\npolicy = {type = "default", k = 1}\n',
                    encoding="utf-8")  # fmt: skip

    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    assert result.exit_code == 78
    assert result.output.splitlines() == [
        f"Error: {path}: library 1 (x): sinks[2].type: unknown sink 'ftp' "
        "(registered: json, sidecar, webhook, xmp)",
        f"Error: {path}: library 1 (x): path: /x does not exist (a share not mounted yet?)",
        f"Error: {path}: library 2 (y): policy: the default policy takes no options, got ['k']",
        f"Error: {path}: library 2 (y): path: /y does not exist (a share not mounted yet?)",
    ]


def test_check_reports_every_folder_problem_at_once(tmp_path: Path) -> None:
    (tmp_path / "family" / "2023").mkdir(parents=True)
    (tmp_path / "a-file").write_bytes(b"")
    path = tmp_path / "c.toml"
    path.write_text(f"""
[[libraries]]
name = "family"
path = "{tmp_path / "family"}"
[[libraries]]
name = "gone"
path = "{tmp_path / "missing"}"
[[libraries]]
path = "{tmp_path / "a-file"}"
[[libraries]]
name = "twice"
path = "{tmp_path / "family"}/"
[[libraries]]
name = "year"
path = "{tmp_path / "family" / "2023"}"
[[libraries]]
name = "relative"
path = "Pictures"
""", encoding="utf-8")  # fmt: skip

    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    assert result.exit_code == 78
    assert [line.removeprefix(f"Error: {path}: ") for line in result.output.splitlines()] == [
        f"library 2 (gone): path: {tmp_path / 'missing'} does not exist (a share not "
        "mounted yet?)",
        f"library 3 (a-file): path: {tmp_path / 'a-file'} is not a folder",
        "library 4 (twice): path: the same folder as library 1 (family): a photo belongs to "
        "one library only",
        "library 5 (year): path: inside the folder of library 1 (family): a photo belongs to "
        "one library only",
        "library 5 (year): path: inside the folder of library 4 (twice): a photo belongs to "
        "one library only",
        "library 6 (relative): path: give an absolute path (or ~/...): a relative one depends "
        "on where a command starts",
    ]  # fmt: skip


def test_check_as_the_service_user_finds_folders_it_cannot_write(tmp_path: Path) -> None:
    """Checked for the user who runs the check: here `nobody` (as root, every folder is
    writable), with a folder it may only read and one whose only sink writes elsewhere."""
    import os
    import pwd
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        prefix: list[str] = []
        user = pwd.getpwuid(os.geteuid()).pw_name
    else:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        user = "nobody"
    base = Path(tempfile.mkdtemp(prefix="scened-check-", dir="/tmp"))  # nobody can reach it
    try:
        base.chmod(0o755)
        for name, mode in (("readonly", 0o555), ("json-only", 0o555), ("writable", 0o777)):
            (base / name).mkdir()
            (base / name).chmod(mode)
        path = base / "c.toml"
        path.write_text(f"""
state_dir = "{base / "writable" / "state"}"
[[libraries]]
path = "{base / "readonly"}"
[[libraries]]
path = "{base / "json-only"}"
sinks = [{{type = "json", path = "{base / "writable" / "tags.jsonl"}"}}]
[[libraries]]
path = "{base / "writable"}"
""", encoding="utf-8")  # fmt: skip
        scened = Path(sys.executable).with_name("scened")
        result = subprocess.run([*prefix, str(scened), "config", "check", "--config", str(path)],
                                capture_output=True, text=True, check=False,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(base)})  # fmt: skip
    finally:
        shutil.rmtree(base)
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines() == [
        f"Error: {path}: library 1 (readonly): path: {base / 'readonly'} cannot be written "
        f"by {user}, and its sinks write keywords into the photos or beside them: give "
        f"access, e.g. sudo setfacl -R -m u:{user}:rwX {base / 'readonly'}, or use only "
        "sinks that write elsewhere (json, webhook)"
    ]


def test_show_prints_the_merged_configuration_as_toml_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[model]\nbatch_size = 8\n[[libraries]]\npath = "/srv/p"\n', encoding="utf-8")
    monkeypatch.setenv("SCENED_CONFIG", str(path))

    shown = CliRunner().invoke(main, ["config", "show"])
    as_json = CliRunner().invoke(main, ["config", "show", "--json"])

    assert shown.exit_code == 0 and as_json.exit_code == 0
    merged = tomllib.loads(shown.output)
    assert merged == json.loads(as_json.output)
    assert merged["model"] == {"runtime": "litert", "batch_size": 8, "threads": 0}
    assert merged["libraries"][0]["name"] == "p"
    assert merged["libraries"][0]["sinks"] == [{"type": "xmp"}]
    assert merged["state_dir"] == str(tmp_path / "xdg-state" / "scened")
